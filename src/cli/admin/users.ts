/** `wes user add` and `wes key create`: run on the server machine against its store. */
import type { Config } from '../../config.js';
import { UserService } from '../../wes/user-service.js';
import { openConfiguredStore } from '../open.js';
import { newUserRefusal } from '../../executors/sandbox/job-sandbox.js';

export async function addUser(config: Config, name: string, isAdmin: boolean): Promise<void> {
  const store = await openConfiguredStore(config);
  try {
    const users = new UserService(store.db, { refuseNewUsers: await newUserRefusal(config.jobSandbox) });
    await users.addUser(name, isAdmin);
    const key = await users.createKey(name);
    process.stdout.write(`Created user "${name}". API key (shown once):\n${key}\n`);
  } finally {
    await store.close();
  }
}

export async function createKey(config: Config, name: string): Promise<void> {
  const store = await openConfiguredStore(config);
  try {
    process.stdout.write(`${await new UserService(store.db).createKey(name)}\n`);
  } finally {
    await store.close();
  }
}
