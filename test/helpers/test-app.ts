/**
 * A real app over a real store for one test: buildTestApp(t) opens a fresh database, counts
 * the queries the store issues, and closes everything in t.after.
 */
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { openStore, type Store } from '../../src/store/connect.js';
import { createServices, type Services } from '../../src/wes/services.js';
import type { RunLauncher } from '../../src/run-launcher.js';
import { createTestDatabase, type TestDatabase } from './dialects.js';
import { Runner } from '../../src/runner/runner.js';
import { LocalExecutor, type LocalExecutorOptions } from '../../src/executors/local/local-executor.js';
import { JobWrapper } from '../../src/executors/job-wrapper.js';
import { containerWrapper } from '../../src/executors/container/container-wrapper.js';
import { selectJobSandbox } from '../../src/executors/sandbox/job-sandbox.js';
import path from 'node:path';
import type { InputPolicy } from '../../src/engine/cwl/input-locations.js';
import type { ContainerEngine } from '../../src/executors/container/container-engine.js';
import type { ServerMetrics } from '../../src/metrics.js';
import type { Executor } from '../../src/executors/executor.js';
import { loadConfig } from '../../src/config.js';
import { createExecutor } from '../../src/cli/create-executor.js';
import { ServerLease } from '../../src/runner/server-lease.js';

/** What runs the jobs of engine tests: WES_EXECUTOR=slurm runs them on a Slurm cluster. */
export const TEST_EXECUTOR = loadConfig(process.env).executor;

/** The one place tests choose an executor (`kind` defaults to WES_EXECUTOR). */
async function testExecutor(dataDir: string, kind: 'local' | 'slurm', local: LocalExecutorOptions & { wrapper: JobWrapper }): Promise<Executor> {
  if (kind === 'local') return new LocalExecutor(local);
  // Quick polls: tests wait for every job. Slurm jobs are confined by the same wrapper, on the node.
  const config = loadConfig(process.env, { dataDir, executor: kind });
  return (await createExecutor({ ...config, slurm: { ...config.slurm, pollIntervalMs: 250 } }, { wrapper: local.wrapper })).executor;
}

export class QueryCounter {
  count = 0;
  readonly statements: string[] = [];
  record(sql: string): void {
    this.count++;
    this.statements.push(sql);
  }
  reset(): void {
    this.count = 0;
    this.statements.length = 0;
  }
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly services: Services;
  readonly queries: QueryCounter;
  readonly database: TestDatabase;
  /** Present when built with `engine: true`. */
  readonly runner?: Runner;
  /** Stops the engine (runs stay active in the store) and closes the app and store, keeping the database. */
  close(): Promise<void>;
  /** Creates a user with a key; returns the Authorization header value and the user id. */
  addUser(name: string): Promise<{ auth: string; userId: number }>;
}

export async function buildTestApp(
  t: TestContext,
  options: {
    launcher?: RunLauncher;
    engine?: boolean;
    /** Jobs with a DockerRequirement run in containers of this engine (with `engine: true`). */
    containers?: ContainerEngine;
    /** The engine's executor, instead of the one WES_EXECUTOR names. */
    executor?: 'local' | 'slurm';
    noAuth?: boolean;
    maxUploadBytes?: number;
    /** Engine limits (defaults: 2 jobs at once, the machine's cores, no per-user limits). */
    maxJobs?: number;
    cores?: number;
    maxJobsPerUser?: number;
    maxRunsPerUser?: number;
    /** Where the engine's runs may take input files from (engine: true). */
    inputPolicy?: InputPolicy;
    /** Origins allowed to call the API from a browser. */
    corsOrigins?: readonly string[];
    /** Records requests and (with the engine) job durations, and serves GET /metrics. */
    metrics?: ServerMetrics;
    database?: TestDatabase;
    /** How jobs are confined, as WES_JOB_SANDBOX; default 'bwrap' (required, as on CI). */
    jobSandbox?: 'bwrap' | 'none';
    /** pids.max of each sandboxed job; default 1024 as WES_JOB_MAX_PROCESSES. */
    jobMaxProcesses?: number;
    /** Sees every query after it ran (besides the counter). */
    onQuery?: (sql: string, parameters: readonly unknown[]) => void;
  } = {},
): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const queries = new QueryCounter();
  const store = await openStore({
    databaseUrl: database.databaseUrl,
    sqlitePath: database.sqlitePath,
    onQuery: (sql, parameters) => {
      queries.record(sql);
      options.onQuery?.(sql, parameters);
    },
  });
  const executorKind = options.executor ?? TEST_EXECUTOR;
  const sandbox =
    options.engine === true
      ? await selectJobSandbox(options.jobSandbox ?? 'bwrap', {
          hiddenPaths: [database.dataDir],
          stateDir: path.join(database.dataDir, 'sandbox'),
          maxProcesses: options.jobMaxProcesses ?? 1024,
        })
      : undefined;
  const executor =
    sandbox === undefined
      ? undefined
      : await testExecutor(database.dataDir, executorKind, {
          maxJobs: options.maxJobs ?? 2,
          cores: options.cores,
          maxJobsPerOwner: options.maxJobsPerUser,
          wrapper: new JobWrapper({
            sandbox: sandbox.wrapper,
            container: options.containers === undefined ? undefined : containerWrapper(options.containers),
          }),
        });
  const runner =
    executor === undefined
      ? undefined
      : new Runner({ db: store.db, executor, allowedUrlPrefixes: [], maxRunsPerUser: options.maxRunsPerUser,
          lease: await ServerLease.register(store.db, { leaseSeconds: 30, exclusive: false }),
          inputPolicy: options.inputPolicy,
          containers: options.containers !== undefined,
          onJobEnded: options.metrics?.observeJob,
        });
  const services = await createServices(store, {
    dataDir: database.dataDir,
    noAuth: options.noAuth ?? false,
    launcher: options.launcher ?? runner,
    jobSandbox: sandbox?.mode,
    containerEngine: options.containers?.version,
    executor: executorKind,
  });
  const localCaller = options.noAuth === true ? { userId: (await services.users.localUser()).id } : undefined;
  const app = await buildApp({ services, localCaller, maxUploadBytes: options.maxUploadBytes, corsOrigins: options.corsOrigins, metrics: options.metrics });
  let closed = false;
  const close = async (dropDatabase: boolean) => {
    if (closed) return;
    closed = true;
    // As `wes serve` stops: jobs of a Slurm cluster go on for the next app, unless nothing will
    // ever resume them because the database goes too.
    if (!dropDatabase) executor?.detach?.();
    await runner?.stop();
    await executor?.shutdown();
    await app.close();
    await store.close();
    if (dropDatabase) await database.drop();
  };
  t.after(() => close(options.database === undefined));
  return {
    app,
    store,
    services,
    queries,
    database,
    runner,
    close: () => close(false),
    async addUser(name) {
      const user = await services.users.addUser(name, false);
      const key = await services.users.createKey(name);
      return { auth: `Bearer ${key}`, userId: user.id };
    },
  };
}

/**
 * A database that outlives several apps (a server restart, a CLI beside a server): apps made
 * with `app()` are closed before the database is dropped, since dropping it first would cut
 * their connections.
 */
export async function sharedTestDatabase(t: TestContext) {
  const database = await createTestDatabase();
  const apps: TestApp[] = [];
  t.after(async () => {
    for (const app of apps) await app.close();
    await database.drop();
  });
  return {
    database,
    async app(options: Omit<Parameters<typeof buildTestApp>[1], 'database'> = {}): Promise<TestApp> {
      const app = await buildTestApp(t, { ...options, database });
      apps.push(app);
      return app;
    },
  };
}
