/** Assembles the use-case services over an open store; what the API and the CLI are given. */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/connect.js';
import { getOrInsertSetting } from '../store/queries/settings.js';
import { PageTokenCodec } from './page-token.js';
import { RunService } from './run-service.js';
import type { RunLauncher } from '../run-launcher.js';
import { TaskService } from './task-service.js';
import { TaskSummaryService } from './task-summary-service.js';
import { UserService } from './user-service.js';
import { SERVER_VERSION, serviceInfo } from './service-info.js';
import { storeGauges } from './store-gauges.js';

export interface Services {
  readonly runs: RunService;
  readonly tasks: TaskService;
  readonly taskSummary: TaskSummaryService;
  readonly users: UserService;
  serviceInfo(baseUrl: string): Promise<Record<string, unknown>>;
  /** The store's part of /metrics, in Prometheus text format. */
  storeGauges(): Promise<string>;
}

export interface ServicesOptions {
  readonly dataDir: string;
  readonly noAuth: boolean;
  readonly launcher?: RunLauncher;
  /** How jobs are confined, for service-info (`tags.job_sandbox`); see executors/sandbox/job-sandbox.ts. */
  readonly jobSandbox?: string;
  /** Only one user may exist (unconfined jobs); the reason shown when adding another. */
  readonly refuseNewUsers?: string;
  /** The container engine jobs with a DockerRequirement run in (e.g. "podman version 4.3.1"). */
  readonly containerEngine?: string;
  /** service-info contactUrl/documentationUrl/environment; unset ones get defaults. */
  readonly deployment?: { readonly contactUrl?: string; readonly documentationUrl?: string; readonly environment?: string };
  /** What runs jobs ('local', 'slurm'), shown in service-info; 'local' when absent. */
  readonly executor?: string;
}

export async function createServices(store: Store, options: ServicesOptions): Promise<Services> {
  // Stored in the database so tokens survive restarts and every replica accepts every token.
  const secret = await getOrInsertSetting(store.db, 'page_token_secret', randomBytes(32).toString('base64'));
  const tokens = new PageTokenCodec(Buffer.from(secret, 'base64'));
  const startedAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const deployment = {
    ...options.deployment,
    createdAt: await getOrInsertSetting(store.db, 'created_at', startedAt),
    updatedAt: await getOrInsertSetting(store.db, `updated_at:${SERVER_VERSION}`, startedAt),
  };
  return {
    runs: new RunService({ db: store.db, tokens, dataDir: options.dataDir, launcher: options.launcher }),
    tasks: new TaskService({ db: store.db, tokens }),
    taskSummary: new TaskSummaryService({ db: store.db, tokens }),
    users: new UserService(store.db, { refuseNewUsers: options.refuseNewUsers }),
    serviceInfo: (baseUrl) =>
      serviceInfo(store.db, {
        baseUrl,
        noAuth: options.noAuth,
        jobSandbox: options.jobSandbox,
        containerEngine: options.containerEngine,
        deployment,
        executor: options.executor ?? 'local',
      }),
    storeGauges: () => storeGauges(store.db),
  };
}
