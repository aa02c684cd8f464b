/** `wes user add/disable` and `wes key create/list/revoke`: run on the server machine against its store. */
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

/** `wes key list <user>`: one line per key (id, prefix, created, revoked); never a secret or a hash. */
export async function listKeys(config: Config, name: string): Promise<void> {
  const store = await openConfiguredStore(config);
  try {
    const keys = await new UserService(store.db).listKeys(name);
    const rows = keys.map((k) => [String(k.id), k.prefix ?? '-', k.created, k.revoked === undefined ? 'active' : `revoked ${k.revoked}`]);
    process.stdout.write([['ID', 'PREFIX', 'CREATED', 'STATE'], ...rows].map((r) => r.join('\t')).join('\n') + '\n');
  } finally {
    await store.close();
  }
}

/** `wes key revoke <id or prefix>`: the key stops working with the next request. */
export async function revokeKey(config: Config, idOrPrefix: string): Promise<void> {
  const store = await openConfiguredStore(config);
  try {
    const { id, user, changed } = await new UserService(store.db).revokeKey(idOrPrefix);
    process.stdout.write(`${changed ? 'Revoked' : 'Already revoked:'} key ${id} of user "${user}"\n`);
  } finally {
    await store.close();
  }
}

/** `wes user disable <user>`: none of the user's keys works any more. */
export async function disableUser(config: Config, name: string): Promise<void> {
  const store = await openConfiguredStore(config);
  try {
    const { changed } = await new UserService(store.db).disableUser(name);
    process.stdout.write(`${changed ? 'Disabled' : 'Already disabled:'} user "${name}"\n`);
  } finally {
    await store.close();
  }
}
