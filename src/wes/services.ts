/** Assembles the use-case services over an open store; what the API and the CLI are given. */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/connect.js';
import { getOrInsertSetting } from '../store/queries/settings.js';
import { PageTokenCodec } from './page-token.js';
import { RunService } from './run-service.js';
import type { RunLauncher } from '../run-launcher.js';
import { TaskService } from './task-service.js';
import { UserService } from './user-service.js';
import { serviceInfo } from './service-info.js';

export interface Services {
  readonly runs: RunService;
  readonly tasks: TaskService;
  readonly users: UserService;
  serviceInfo(baseUrl: string): Promise<Record<string, unknown>>;
}

export interface ServicesOptions {
  readonly dataDir: string;
  readonly noAuth: boolean;
  readonly remoteWorkflows: boolean;
  readonly launcher?: RunLauncher;
  /** What runs jobs ('local', 'slurm'), shown in service-info; 'local' when absent. */
  readonly executor?: string;
}

export async function createServices(store: Store, options: ServicesOptions): Promise<Services> {
  // Stored in the database so tokens survive restarts and every replica accepts every token.
  const secret = await getOrInsertSetting(store.db, 'page_token_secret', randomBytes(32).toString('base64'));
  const tokens = new PageTokenCodec(Buffer.from(secret, 'base64'));
  return {
    runs: new RunService({ db: store.db, tokens, dataDir: options.dataDir, launcher: options.launcher }),
    tasks: new TaskService({ db: store.db, tokens }),
    users: new UserService(store.db),
    serviceInfo: (baseUrl) =>
      serviceInfo(store.db, { baseUrl, noAuth: options.noAuth, remoteWorkflows: options.remoteWorkflows, executor: options.executor ?? 'local' }),
  };
}
