/**
 * Fair sharing between users (issue 6): one user's big scatter must not hold back another
 * user's one-step run by more than a job slot, and a user's runs beyond WES_MAX_RUNS_PER_USER
 * wait QUEUED, in order, also across a restart. Orders are read from the store (job create and
 * start times), never judged by durations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { buildTestApp, sharedTestDatabase, type TestApp } from '../helpers/test-app.js';
import { ECHO_TOOL } from '../helpers/multipart.js';
import { SLEEPING_TOOL } from '../e2e/workflows.js';
import { submitWorkflow, waitForState } from '../e2e/helpers.js';

/** Each element sleeps a little, so that with two job slots most of the scatter waits queued. */
const SLEEP_SCATTER = `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs:
  numbers: int[]
outputs: []
steps:
  nap:
    run:
      class: CommandLineTool
      baseCommand: [sleep, "0.2"]
      inputs: {n: int}
      outputs: []
    scatter: n
    in: {n: numbers}
    out: []
`;
async function recordedJobs(app: TestApp): Promise<number> {
  const row = await app.store.db.selectFrom('job').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function cancel(app: TestApp, auth: string, runId: string): Promise<void> {
  const response = await app.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: auth } });
  assert.equal(response.statusCode, 200, response.body);
}

test("another user's one-step run overtakes a 1,000-job scatter queued before it", async (t) => {
  const maxJobs = 2;
  const app = await buildTestApp(t, { engine: true, maxJobs });
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  const numbers = Array.from({ length: 1000 }, (_, i) => i);
  const scatter = await submitWorkflow(app, alice.auth, 'scatter.cwl', { numbers }, [{ name: 'scatter.cwl', content: SLEEP_SCATTER }]);
  // Alice's jobs are being recorded and queued; Bob comes in while most of them wait.
  for (let i = 0; i < 1200 && (await recordedJobs(app)) < 100; i++) await delay(50);
  assert.ok((await recordedJobs(app)) >= 100, "alice's scatter did not get going");
  const one = await submitWorkflow(app, bob.auth, 'echo.cwl', { message: 'hi' }, [{ name: 'echo.cwl', content: ECHO_TOOL }]);
  assert.equal(await waitForState(app, bob.auth, one), 'COMPLETE');

  const bobJob = await app.store.db
    .selectFrom('job')
    .select(['create_time', 'start_time'])
    .where('argv', 'like', '%echo%')
    .executeTakeFirstOrThrow();
  const bobStart = bobJob.start_time ?? assert.fail('bob\'s job has no start time');
  const aliceJobs = await app.store.db.selectFrom('job').select(['create_time', 'start_time']).where('argv', 'not like', '%echo%').execute();
  const queuedBeforeBob = aliceJobs.filter((job) => job.create_time < bobJob.create_time);
  // Strict FIFO would start every one of these before bob's; round-robin lets his go next.
  const startedFirst = queuedBeforeBob.filter((job) => job.start_time !== null && job.start_time > bobJob.create_time && job.start_time < bobStart);
  const overtaken = queuedBeforeBob.filter((job) => job.start_time === null || job.start_time > bobStart);
  assert.ok(overtaken.length >= 50, `bob's job overtook only ${overtaken.length} of alice's queued jobs`);
  // About one job slot; the margin covers the store latency between recording bob's job and queueing it.
  assert.ok(startedFirst.length <= 2 * maxJobs, `${startedFirst.length} of alice's earlier jobs started while bob's waited`);

  await cancel(app, alice.auth, scatter);
  assert.equal(await waitForState(app, alice.auth, scatter), 'CANCELED');
});

test("a user's runs beyond maxRunsPerUser stay QUEUED, also after a restart, and start as earlier ones end", async (t) => {
  const shared = await sharedTestDatabase(t);
  const marker = `wes-fair-${randomUUID()}`;
  const sleep = (app: TestApp, auth: string, n: number) =>
    submitWorkflow(app, auth, 'sleep.cwl', { marker: `${marker}-${n}` }, [{ name: 'sleep.cwl', content: SLEEPING_TOOL }]);
  // Sleeping jobs hold a core each: the budget must leave room for bob's job.
  const limits = { engine: true, maxJobs: 4, cores: 4, maxRunsPerUser: 2 };
  const first = await shared.app(limits);
  const alice = await first.addUser('alice');
  const bob = await first.addUser('bob');
  const runs = [await sleep(first, alice.auth, 1), await sleep(first, alice.auth, 2), await sleep(first, alice.auth, 3)];
  for (const run of runs.slice(0, 2)) await waitForState(first, alice.auth, run, (s) => s === 'RUNNING');
  // The limit is per user: bob's run goes ahead of alice's third.
  const bobs = await submitWorkflow(first, bob.auth, 'echo.cwl', { message: 'hi' }, [{ name: 'echo.cwl', content: ECHO_TOOL }]);
  assert.equal(await waitForState(first, bob.auth, bobs), 'COMPLETE');
  assert.equal(await waitForState(first, alice.auth, runs[2], () => true), 'QUEUED');

  await first.close();
  const second = await shared.app(limits);
  assert.equal(await second.runner?.resumeActiveRuns(), 3);
  for (const run of runs.slice(0, 2)) await waitForState(second, alice.auth, run, (s) => s === 'RUNNING');
  const third = await second.store.db.selectFrom('job').select('id').where('argv', 'like', `%${marker}-3%`).execute();
  assert.deepEqual(third, [], 'the third run got a job while two of its owner\'s runs were active');
  assert.equal(await waitForState(second, alice.auth, runs[2], () => true), 'QUEUED');

  await cancel(second, alice.auth, runs[0]);
  assert.equal(await waitForState(second, alice.auth, runs[0]), 'CANCELED');
  assert.equal(await waitForState(second, alice.auth, runs[2], (s) => s === 'RUNNING'), 'RUNNING');
  for (const run of runs.slice(1)) await cancel(second, alice.auth, run);
  for (const run of runs.slice(1)) assert.equal(await waitForState(second, alice.auth, run), 'CANCELED');
});
