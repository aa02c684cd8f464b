/** `wes seed`: a synthetic run in the store, reported as one JSON line with a key that can read it. */
import type { Config } from '../../config.js';
import { findUserByName } from '../../store/queries/users.js';
import { runsDirOf } from '../../wes/run-service.js';
import { seedRun, seedShape } from '../../wes/seed.js';
import { UserService } from '../../wes/user-service.js';
import { openConfiguredStore } from '../open.js';

export interface SeedCommandOptions {
  readonly user: string;
  readonly inputs: number;
  readonly steps: number;
  readonly mapped: number;
  readonly elements: number;
  readonly running: number;
  readonly logs: boolean;
}

export async function seedCommand(config: Config, options: SeedCommandOptions): Promise<void> {
  if (options.mapped > options.steps) throw new Error(`--mapped (${options.mapped}) cannot exceed --steps (${options.steps})`);
  const store = await openConfiguredStore(config);
  try {
    const users = new UserService(store.db);
    const user = (await findUserByName(store.db, options.user)) ?? (await users.addUser(options.user, false));
    const apiKey = await users.createKey(user.name);
    const result = await seedRun(store.db, {
      userId: user.id,
      runsDir: runsDirOf(config.dataDir),
      steps: seedShape(options),
      runningJobs: options.running,
      logs: options.logs,
    });
    process.stdout.write(`${JSON.stringify({ run_id: result.runId, tasks: result.tasks, api_key: apiKey })}\n`);
  } finally {
    await store.close();
  }
}
