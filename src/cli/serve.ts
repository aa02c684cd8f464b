/** `wes serve`: opens the store, prints the admin key on first start, and listens. */
import path from 'node:path';
import type { Config } from '../config.js';
import { buildApp } from '../api/app.js';
import { createServices } from '../wes/services.js';
import { openConfiguredStore, restrictDataDir } from './open.js';
import { Runner } from '../engine/runner/runner.js';
import { removeInterruptedUploads } from '../wes/attachments.js';
import { runsDirOf } from '../wes/run-service.js';
import { closeSandbox, configureSandbox } from '../engine/index.js';
import { JobWrapper } from '../executors/job-wrapper.js';
import { selectJobSandbox } from '../executors/sandbox/job-sandbox.js';
import { detectContainerEngine } from '../executors/container/container-engine.js';
import { containerWrapper, removeLeftoverContainers } from '../executors/container/container-wrapper.js';
import { ServerMetrics } from '../metrics.js';
import { createExecutor } from './create-executor.js';

export async function serve(config: Config): Promise<void> {
  // Before anything is written there (the sandbox's state comes first).
  restrictDataDir(config.dataDir);
  // Decided before anything else so that a required but missing sandbox stops the start.
  const sandbox = await selectJobSandbox(config.jobSandbox, {
    hiddenPaths: [config.dataDir],
    stateDir: path.join(config.dataDir, 'sandbox'),
    maxProcesses: config.jobMaxProcesses,
    readOnlyDirs: config.jobReadOnlyDirs,
  });
  process.stdout.write(`${sandbox.message}\n`);
  const store = await openConfiguredStore(config);
  await configureSandbox({ timeoutMs: config.expressionTimeoutMs, memoryBytes: config.expressionMemoryBytes });
  const containers = await detectContainerEngine(process.env, config.containerEngine);
  if (containers.engine === undefined && config.containerEngine !== undefined) {
    throw new Error(`WES_CONTAINER_ENGINE=${config.containerEngine}: ${containers.problem}`);
  }
  const { executor, reaped } = await createExecutor(config, {
    sandbox: sandbox.mode,
    wrapper: new JobWrapper({
      sandbox: sandbox.wrapper,
      container: containers.engine === undefined ? undefined : containerWrapper(containers.engine),
    }),
  });
  const leftContainers = containers.engine === undefined ? 0 : await removeLeftoverContainers(containers.engine, config.dataDir);
  // Uploads cut off by the last stop never became runs; nothing refers to them.
  const staged = await removeInterruptedUploads(runsDirOf(config.dataDir));
  const metrics = new ServerMetrics();
  const runner = new Runner({
    db: store.db,
    executor,
    allowedUrlPrefixes: config.allowedWorkflowUrlPrefixes,
    inputPolicy: config,
    maxRunsPerUser: config.maxRunsPerUser,
    containers: containers.engine !== undefined,
    onJobEnded: metrics.observeJob,
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
    // Active runs keep their state and are resumed by the next start; Slurm jobs go on
    // (detached) and the next start attaches to them.
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
  const where = config.databaseUrl === undefined ? `SQLite in ${config.dataDir}` : 'PostgreSQL';
  process.stdout.write(
    `wes-server listening on ${address}/ga4gh/wes/v1, dashboard at ${address}/ (${where}${config.noAuth ? ', no auth' : ''}, job sandbox: ${sandbox.mode})\n`,
  );
}
