/**
 * `wes serve`: opens the store, takes this server's lease in it, prints the admin key on first
 * start, listens, and claims the runs no live server drives.
 */
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { Config } from '../config.js';
import { buildApp } from '../api/app.js';
import { createServices } from '../wes/services.js';
import { openConfiguredStore, restrictDataDir } from './open.js';
import { Runner } from '../runner/runner.js';
import { removeInterruptedUploads } from '../wes/attachments.js';
import { runsDirOf } from '../wes/run-service.js';
import { closeSandbox, configureSandbox } from '../engine/index.js';
import { JobWrapper } from '../executors/job-wrapper.js';
import { selectJobSandbox } from '../executors/sandbox/job-sandbox.js';
import { detectContainerEngine } from '../executors/container/container-engine.js';
import { containerWrapper, removeLeftoverContainers } from '../executors/container/container-wrapper.js';
import { ServerMetrics } from '../metrics.js';
import { createExecutor } from './create-executor.js';
import { ServerLease } from '../runner/server-lease.js';
import { RUN_CANCEL_CHANNEL } from '../store/queries/leases.js';

/**
 * V8 lets the old generation grow to up to 4× what survived its last full collection. A server
 * driving hundreds of jobs a second promotes short-lived objects fast (a job's objects outlive
 * two scavenges while it waits for its slot and its store round trips), so most of its peak RSS
 * was that garbage: twice the live set instead (ARCHITECTURE.md, "The heap while a big scatter runs").
 */
const HEAP_GROWING_PERCENT = 100;

export async function serve(config: Config): Promise<void> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // Before anything is written there (the SQLite file comes first).
  restrictDataDir(config.dataDir);
  const store = await openConfiguredStore(config);
  // Before anything of the data directory is touched: on SQLite a second server stops here,
  // naming the first, instead of stopping its jobs and running its runs a second time.
  const lease = await ServerLease.register(store.db, { leaseSeconds: config.leaseSeconds, exclusive: store.dialect === 'sqlite' }).catch(
    async (error: unknown) => {
      await store.close();
      throw error;
    },
  );
  // Decided before the executor so that a required but missing sandbox stops the start.
  const sandbox = await selectJobSandbox(config.jobSandbox, {
    hiddenPaths: [config.dataDir],
    stateDir: path.join(config.dataDir, 'sandbox'),
    maxProcesses: config.jobMaxProcesses,
    readOnlyDirs: config.jobReadOnlyDirs,
  });
  process.stdout.write(`${sandbox.message}\n`);
  await configureSandbox({ timeoutMs: config.expressionTimeoutMs, memoryBytes: config.expressionMemoryBytes });
  const containers = await detectContainerEngine(process.env, config.containerEngine);
  if (containers.engine === undefined && config.containerEngine !== undefined) {
    throw new Error(`WES_CONTAINER_ENGINE=${config.containerEngine}: ${containers.problem}`);
  }
  const { executor, reapOrphans } = await createExecutor(config, {
    wrapper: new JobWrapper({
      sandbox: sandbox.wrapper,
      container: containers.engine === undefined ? undefined : containerWrapper(containers.engine),
    }),
  });
  // Jobs and containers a crashed server left would run on beside their reruns. Only those of
  // servers that are gone or hold no lease: live ones may share the data directory.
  const liveServers = () => lease.liveProcessKeys();
  const removeContainers = async () =>
    containers.engine === undefined ? 0 : removeLeftoverContainers(containers.engine, config.dataDir, liveServers);
  const reaped = await reapOrphans(liveServers);
  const leftContainers = await removeContainers();
  // Uploads cut off by the last stop never became runs; while other servers live they may be theirs.
  const staged = (await lease.otherLiveServers()) === 0 ? await removeInterruptedUploads(runsDirOf(config.dataDir)) : 0;
  const metrics = new ServerMetrics();
  await lease.refresh();
  const runner = new Runner({
    db: store.db,
    executor,
    allowedUrlPrefixes: config.allowedWorkflowUrlPrefixes,
    inputPolicy: config,
    maxRunsPerUser: config.maxRunsPerUser,
    containers: containers.engine !== undefined,
    onJobEnded: metrics.observeJob,
    lease,
    maxRuns: config.maxRuns,
    reapLeftovers: async () => (await reapOrphans(liveServers)) + (await removeContainers()),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const services = await createServices(store, {
    dataDir: config.dataDir,
    noAuth: config.noAuth,
    launcher: runner,
    jobSandbox: sandbox.mode,
    refuseNewUsers: sandbox.refuseNewUsers,
    containerEngine: containers.engine?.version,
    deployment: { contactUrl: config.contactUrl, documentationUrl: config.documentationUrl, environment: config.environment },
    executor: config.executor,
  });
  let localCaller;
  if (config.noAuth) {
    localCaller = { userId: (await services.users.localUser()).id };
  } else {
    const adminKey = await services.users.bootstrapAdmin();
    if (adminKey !== undefined) {
      process.stdout.write(
        `\nCreated user "admin". Its API key is shown only this once:\n\n    ${adminKey}\n\n` +
          `Send it as "Authorization: Bearer <key>". Create more with "wes user add" and "wes key create".\n\n`,
      );
    }
  }
  const app = await buildApp({
    services,
    localCaller,
    publicUrl: config.publicUrl,
    trustedHosts: config.trustedHosts,
    maxUploadBytes: config.maxUploadBytes,
    authFailures: { limit: config.authFailureLimit, windowSeconds: config.authFailureWindowSeconds },
    logger: { level: 'info' },
    corsOrigins: config.corsOrigins,
    metrics,
  });
  const stop = async () => {
    // Active runs keep their state and are taken over by another server or the next start
    // (the lease ends with runner.stop()); Slurm jobs go on (detached) and are attached to.
    executor.detach?.();
    await runner.stop();
    await executor.shutdown();
    await closeSandbox();
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  // A cancel taken by another server reaches this one at once (PostgreSQL; heartbeats otherwise).
  await store.listen(RUN_CANCEL_CHANNEL, (payload) => runner.stopCanceled(Number(payload)));
  const address = await app.listen({ host: config.host, port: config.port });
  if (reaped > 0) process.stdout.write(`stopped ${reaped} job process group(s) left by a previous server\n`);
  if (staged > 0) process.stdout.write(`removed ${staged} unfinished upload(s) left by a previous server\n`);
  if (leftContainers > 0) process.stdout.write(`removed ${leftContainers} job container(s) left by a previous server\n`);
  const resumed = await runner.resumeActiveRuns();
  if (resumed > 0) process.stdout.write(`resumed ${resumed} active run(s)\n`);
  process.stdout.write(
    containers.engine === undefined
      ? `containers: none — DockerRequirement hints run without a container, requirements fail (${containers.problem})\n`
      : `containers: ${containers.engine.version} (${containers.engine.binary})\n`,
  );
  const where = config.databaseUrl === undefined ? `SQLite in ${config.dataDir}` : `PostgreSQL, server ${lease.serverId}`;
  process.stdout.write(
    `wes-server listening on ${address}/ga4gh/wes/v1, dashboard at ${address}/ (${where}${config.noAuth ? ', no auth' : ''}, job sandbox: ${sandbox.mode})\n`,
  );
}
