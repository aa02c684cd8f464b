/** `wes serve`: opens the store, prints the admin key on first start, and listens. */
import type { Config } from '../config.js';
import { buildApp } from '../api/app.js';
import { createServices } from '../wes/services.js';
import { openConfiguredStore } from './open.js';
import { Runner } from '../engine/runner/runner.js';
import { createExecutor } from './create-executor.js';

export async function serve(config: Config): Promise<void> {
  const store = await openConfiguredStore(config);
  const { executor, reaped } = await createExecutor(config);
  const runner = new Runner({ db: store.db, executor, allowedUrlPrefixes: config.allowedWorkflowUrlPrefixes });
  const services = await createServices(store, {
    dataDir: config.dataDir,
    noAuth: config.noAuth,
    remoteWorkflows: config.allowedWorkflowUrlPrefixes.length > 0,
    launcher: runner,
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
  const app = await buildApp({ services, localCaller, publicUrl: config.publicUrl, logger: { level: 'info' } });
  const stop = async () => {
    // Active runs keep their state and are resumed by the next start; Slurm jobs go on
    // (detached) and the next start attaches to them.
    executor.detach?.();
    await runner.stop();
    await executor.shutdown();
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  const address = await app.listen({ host: config.host, port: config.port });
  if (reaped > 0) process.stdout.write(`stopped ${reaped} job process group(s) left by a previous server\n`);
  const resumed = await runner.resumeActiveRuns();
  if (resumed > 0) process.stdout.write(`resumed ${resumed} active run(s)\n`);
  const where = config.databaseUrl === undefined ? `SQLite in ${config.dataDir}` : 'PostgreSQL';
  process.stdout.write(`wes-server listening on ${address}/ga4gh/wes/v1 (${where}${config.noAuth ? ', no auth' : ''})\n`);
}
