/**
 * Restarts with WES_EXECUTOR=slurm against a real cluster (CI starts a one-node one with
 * scripts/slurm-test-cluster.sh): a stopped `wes serve` leaves its Slurm jobs running and the
 * next one attaches to them instead of submitting them again; a run canceled while no server
 * ran has its Slurm jobs canceled by the next start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../helpers/dialects.js';
import { startServer, type Server } from '../helpers/wes-process.js';
import { slurmClusterProblem, slurmJobActive } from '../helpers/slurm.js';
import { sharedTestDatabase } from '../helpers/test-app.js';
import { processesMentioning } from '../helpers/processes.js';
import { openStore } from '../../src/store/connect.js';
import { SlurmCommands } from '../../src/executors/slurm/slurm-commands.js';
import { getJson, submitWorkflow, waitForState } from './helpers.js';
import { GATED_WORKFLOW, SLEEPING_TOOL } from './workflows.js';

const skip = slurmClusterProblem();
const SLURM_ENV = { WES_EXECUTOR: 'slurm', WES_JOB_SANDBOX: 'none', WES_SLURM_POLL_MS: '250' };

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  await exited;
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await check()) return;
    await delay(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function executorJobIds(database: TestDatabase): Promise<(string | null)[]> {
  const store = await openStore({ databaseUrl: database.databaseUrl, sqlitePath: database.sqlitePath });
  try {
    return (await store.db.selectFrom('job').select('executor_job_id').orderBy('id').execute()).map((job) => job.executor_job_id);
  } finally {
    await store.close();
  }
}

interface Restarts {
  readonly database: TestDatabase;
  /** A file for the jobs to count their runs in, and the gate file they wait for. */
  readonly counter: string;
  readonly gate: string;
  /** A `wes serve` on Slurm, killed when the test ends. */
  start(): Promise<Server>;
}

async function restarts(t: { after: (fn: () => Promise<void>) => void }): Promise<Restarts> {
  const database = await createTestDatabase();
  const servers: Server[] = [];
  t.after(async () => {
    for (const server of servers) server.process.kill('SIGKILL');
    // A failed test must not leave a job blocking the cluster's CPUs.
    await new SlurmCommands().cancel((await executorJobIds(database)).flatMap((id) => (id === null ? [] : [id])));
    await database.drop();
  });
  return {
    database,
    counter: path.join(database.dataDir, 'counter.txt'),
    gate: path.join(database.dataDir, 'gate'),
    async start() {
      const server = await startServer(database, SLURM_ENV);
      servers.push(server);
      return server;
    },
  };
}

/** Submits a workflow of one file; resolves to the run id. */
async function submitRun(server: Server, name: string, document: string, params: object): Promise<string> {
  const form = new FormData();
  form.set('workflow_type', 'CWL');
  form.set('workflow_type_version', 'v1.2');
  form.set('workflow_url', name);
  form.set('workflow_params', JSON.stringify(params));
  form.set('workflow_attachment', new Blob([document]), name);
  const submitted = await fetch(`${server.url}/ga4gh/wes/v1/runs`, { method: 'POST', body: form });
  assert.equal(submitted.status, 200, await submitted.clone().text());
  return ((await submitted.json()) as { run_id: string }).run_id;
}

/** Waits for the run to end; asserts it completed. */
async function assertCompletes(server: Server, runId: string): Promise<void> {
  await until(async () => {
    const response = await fetch(`${server.url}/ga4gh/wes/v1/runs/${runId}/status`);
    return ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'].includes(((await response.json()) as { state: string }).state);
  }, 'the run to end');
  const log = (await (await fetch(`${server.url}/ga4gh/wes/v1/runs/${runId}`)).json()) as { state: string };
  assert.equal(log.state, 'COMPLETE', JSON.stringify(log));
}

test('a stopped server leaves its Slurm job running; the next one attaches to it and submits nothing again', { skip }, async (t) => {
  const { database, counter, gate, start } = await restarts(t);
  const first = await start();
  const runId = await submitRun(first, 'gated.cwl', GATED_WORKFLOW, { counter, gate });
  // Step "second" (task 3) has a Slurm job once two job rows carry Slurm ids.
  await until(async () => (await executorJobIds(database)).filter((id) => id !== null).length === 2, 'both Slurm jobs');
  const [, waiting] = await executorJobIds(database);
  assert.ok(waiting !== null);
  await until(() => slurmJobActive(waiting), 'the gated job to be queued or running');

  await stopServer(first);
  assert.equal(await slurmJobActive(waiting), true, 'the job goes on while no server runs');

  const second = await start();
  fs.writeFileSync(gate, '');
  await assertCompletes(second, runId);
  assert.equal(fs.readFileSync(counter, 'utf8'), 'ran\n', 'the finished step ran again');
  await stopServer(second);
  const ids = await executorJobIds(database);
  // Two Slurm jobs in all: the second server's row for step 3 carries the job it attached to.
  assert.equal(new Set(ids).size, 2, `Slurm job ids of the job rows: ${ids.join(', ')}`);
  assert.equal(ids.at(-1), waiting);
});

/** A scatter whose jobs wait for a gate file, then append their number to a counter file. */
const GATED_SCATTER = `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs: {numbers: "int[]", counter: string, gate: string}
outputs: {outs: {type: "File[]", outputSource: wait/out}}
steps:
  wait:
    run:
      class: CommandLineTool
      requirements: {ShellCommandRequirement: {}}
      inputs: {n: int, counter: string, gate: string}
      arguments: [{valueFrom: "while [ ! -e $(inputs.gate) ]; do sleep 0.1; done; echo $(inputs.n) >> $(inputs.counter); echo $(inputs.n)", shellQuote: false}]
      outputs: {out: {type: stdout}}
      stdout: out.txt
    scatter: n
    in: {n: numbers, counter: counter, gate: gate}
    out: [out]
`;

test("a scatter's jobs go as a Slurm job array; after a restart the next server attaches to its elements and submits none again", { skip }, async (t) => {
  const { database, counter, gate, start } = await restarts(t);
  const numbers = [1, 2, 3, 4, 5];
  const first = await start();
  const runId = await submitRun(first, 'scatter.cwl', GATED_SCATTER, { numbers, counter, gate });
  const slurmIds = async () => (await executorJobIds(database)).filter((id) => id !== null);
  await until(async () => (await slurmIds()).length === numbers.length, 'every element to be in Slurm');
  const before = await slurmIds();
  // Elements prepared together share an array: fewer sbatch calls (plain ids and arrays) than jobs.
  assert.ok(before.some((id) => /^\d+_\d+$/.test(id)), `Slurm job ids: ${before.join(', ')}`);
  assert.ok(new Set(before.map((id) => id.split('_')[0])).size < numbers.length, `Slurm job ids: ${before.join(', ')}`);
  for (const id of before) await until(() => slurmJobActive(id), `job ${id} to be queued or running`);

  await stopServer(first);
  for (const id of before) assert.equal(await slurmJobActive(id), true, 'the jobs go on while no server runs');
  const second = await start();
  fs.writeFileSync(gate, '');
  await assertCompletes(second, runId);
  await stopServer(second);
  // Each element ran once, in the Slurm job submitted by the first server.
  assert.deepEqual(fs.readFileSync(counter, 'utf8').trim().split('\n').map(Number).sort(), numbers);
  assert.deepEqual([...new Set(await slurmIds())].sort(), [...before].sort());
});

test('a run canceled while no server ran has its Slurm jobs canceled by the next start', { skip }, async (t) => {
  const shared = await sharedTestDatabase(t);
  const first = await shared.app({ engine: true, executor: 'slurm' });
  const { auth } = await first.addUser('alice');
  const marker = `wes-slurm-cancel-${randomUUID()}`;
  const runId = await submitWorkflow(first, auth, 'sleep.cwl', { marker }, [{ name: 'sleep.cwl', content: SLEEPING_TOOL }]);
  await until(() => processesMentioning(marker).length >= 2, 'the job to run');
  const job = await first.store.db.selectFrom('job').select('executor_job_id').executeTakeFirstOrThrow();
  assert.ok(job.executor_job_id !== null);
  const slurmId = job.executor_job_id;
  t.after(() => new SlurmCommands().cancel([slurmId]));
  await first.close();
  assert.equal(await slurmJobActive(job.executor_job_id), true, 'the job goes on while no server runs');

  const probe = await shared.app();
  const cancel = await probe.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: auth } });
  assert.equal(cancel.statusCode, 200);
  assert.equal((await getJson<{ state: string }>(probe, auth, `/runs/${runId}/status`)).state, 'CANCELING');
  await probe.close();

  const second = await shared.app({ engine: true, executor: 'slurm' });
  await second.runner?.resumeActiveRuns();
  assert.equal(await waitForState(second, auth, runId), 'CANCELED');
  await until(async () => !(await slurmJobActive(job.executor_job_id ?? '')), 'the Slurm job to be canceled');
  await until(() => processesMentioning(marker).length === 0, 'the job\'s processes to end');
});
