/**
 * Runs CWL workflows end to end over HTTP with the real engine and real processes: states,
 * task pages, job logs, outputs, failures, cancel, restart and a large scatter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { buildTestApp, sharedTestDatabase, TEST_EXECUTOR, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse, assertMatchesSpec } from '../helpers/spec.js';
import { multipartBody } from '../helpers/multipart.js';
import { processesMentioning } from '../helpers/processes.js';
import { allTasks, getJson, submitWorkflow, waitForState } from './helpers.js';
import { FAILING_TOOL, GATED_WORKFLOW, LINES_WORKFLOW, NESTED_WORKFLOW, SCATTER_WORKFLOW, SH_SCATTER_WORKFLOW, SLEEPING_TOOL, WC_TOOL } from './workflows.js';

interface RunLog {
  state: string;
  outputs: Record<string, { location: string; size: number; checksum: string; basename: string }>;
  run_log: { start_time?: string; end_time?: string; system_logs?: string[] };
}

test('a workflow with attachments runs to COMPLETE; tasks, logs and outputs are served', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const runId = await submitWorkflow(app, auth, 'main.cwl', { text: { class: 'File', location: 'data/lines.txt' } }, [
    { name: 'main.cwl', content: LINES_WORKFLOW },
    { name: 'tools/wc.cwl', content: WC_TOOL },
    { name: 'data/lines.txt', content: 'one\ntwo\nthree\n' },
  ]);
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  assertMatchesSpec('RunLog', log);
  assert.match(log.run_log.start_time ?? '', /Z$/);
  assert.match(log.run_log.end_time ?? '', /Z$/);

  const reversed = await app.app.inject({ url: new URL(log.outputs.reversed.location).pathname, headers: { authorization: auth } });
  assert.equal(reversed.body, 'three\ntwo\none\n');
  const count = await app.app.inject({ url: new URL(log.outputs.count.location).pathname, headers: { authorization: auth } });
  assert.equal(count.body.trim(), '3');
  assert.equal(log.outputs.count.checksum, 'sha1$' + (await import('node:crypto')).createHash('sha1').update(count.body).digest('hex'));
  const bob = await app.addUser('bob');
  const theirs = await app.app.inject({ url: new URL(log.outputs.count.location).pathname, headers: { authorization: bob.auth } });
  assertErrorResponse(theirs, 404);
  const escape = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/outputs/..%2F..%2Fwes.sqlite`, headers: { authorization: auth } });
  assertErrorResponse(escape, 404);

  const tasks = await allTasks(app, auth, runId, 1);
  assert.deepEqual(tasks.map((task) => [task.id, task.name]), [['0', 'text'], ['1', 'count'], ['2', 'reverse']]);
  for (const task of tasks) assertMatchesSpec('TaskLog', task);
  const reverseTask = tasks[2];
  assert.equal(reverseTask.exit_code, 0);
  assert.equal((reverseTask.cmd as string[])[0], 'tac');
  const stdout = await app.app.inject({ url: new URL(String(reverseTask.stdout)).pathname, headers: { authorization: auth } });
  assert.equal(stdout.body, 'three\ntwo\none\n');
  const engineLog = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/log`, headers: { authorization: auth } });
  assert.match(engineLog.body, /run complete/);
});

test('an invalid CWL document is a 400 with the loader\'s message and nothing is stored', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ['broken.cwl', 'cwlVersion: v1.2\nclass: CommandLineTool\ninputs: [\n', {}, /broken\.cwl/],
    ['echo.cwl', WC_TOOL, {}, /file/],
    ['missing.cwl', WC_TOOL, {}, /missing\.cwl/],
  ];
  for (const [url, document, params, message] of cases) {
    const { payload, headers } = await multipartBody(
      { workflow_type: 'CWL', workflow_type_version: 'v1.2', workflow_url: url, workflow_params: JSON.stringify(params) },
      [{ name: url === 'missing.cwl' ? 'other.cwl' : url, content: document }],
    );
    const response = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
    assertErrorResponse(response, 400, message);
  }
  const runsDir = path.join(app.database.dataDir, 'runs');
  assert.deepEqual(fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [], []);
});

test('a failing step ends the run in EXECUTOR_ERROR with its exit code and stderr', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const runId = await submitWorkflow(app, auth, 'fail.cwl', {}, [{ name: 'fail.cwl', content: FAILING_TOOL }]);
  assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  assert.ok((log.run_log.system_logs ?? []).some((line) => /3/.test(line)), JSON.stringify(log.run_log));
  const [task] = await allTasks(app, auth, runId);
  assert.equal(task.exit_code, 3);
  const stderr = await app.app.inject({ url: new URL(String(task.stderr)).pathname, headers: { authorization: auth } });
  assert.equal(stderr.body, 'about to fail\n');
});

test('cancel stops a running run and leaves no process behind', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const marker = `wes-cancel-${randomUUID()}`;
  const runId = await submitWorkflow(app, auth, 'sleep.cwl', { marker }, [{ name: 'sleep.cwl', content: SLEEPING_TOOL }]);
  await waitForState(app, auth, runId, (state) => state === 'RUNNING');
  for (let i = 0; i < 100 && processesMentioning(marker).length < 2; i++) await delay(100);
  assert.ok(processesMentioning(marker).length >= 2, 'the job\'s processes did not start');
  const cancel = await app.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: auth } });
  assert.equal(cancel.statusCode, 200);
  const state = await getJson<{ state: string }>(app, auth, `/runs/${runId}/status`);
  assert.ok(['CANCELING', 'CANCELED'].includes(state.state), state.state);
  assert.equal(await waitForState(app, auth, runId), 'CANCELED');
  assert.deepEqual(processesMentioning(marker), []);
});

test('a server restart in the middle of a run resumes it without rerunning finished jobs', async (t) => {
  const shared = await sharedTestDatabase(t);
  const { database } = shared;
  const counter = path.join(database.dataDir, 'counter.txt');
  const gate = path.join(database.dataDir, 'gate');
  // The steps talk to the test through host files no sandboxed job could reach; what is
  // tested here is resuming, so these jobs run unconfined.
  const first = await shared.app({ engine: true, jobSandbox: 'none' });
  const { auth } = await first.addUser('alice');
  const runId = await submitWorkflow(first, auth, 'gated.cwl', { counter, gate }, [{ name: 'gated.cwl', content: GATED_WORKFLOW }]);
  for (let i = 0; i < 300; i++) {
    const tasks = await allTasks(first, auth, runId);
    if (tasks.some((task) => task.id === '3' && 'start_time' in task)) break;
    await delay(100);
  }
  assert.equal(fs.readFileSync(counter, 'utf8'), 'ran\n');
  await first.close();
  const probe = await shared.app();
  assert.equal((await getJson<{ state: string }>(probe, auth, `/runs/${runId}/status`)).state, 'RUNNING');
  await probe.close();

  fs.writeFileSync(gate, '');
  const second = await shared.app({ engine: true, jobSandbox: 'none' });
  await second.runner?.resumeActiveRuns();
  assert.equal(await waitForState(second, auth, runId), 'COMPLETE');
  assert.equal(fs.readFileSync(counter, 'utf8'), 'ran\n', 'the finished step ran again');
  const log = await getJson<RunLog>(second, auth, `/runs/${runId}`);
  const result = await second.app.inject({ url: new URL(log.outputs.result.location).pathname, headers: { authorization: auth } });
  assert.equal(result.body, 'first\nsecond\n');
  const tasks = await allTasks(second, auth, runId);
  assert.deepEqual(tasks.map((task) => task.id), ['0', '1', '2', '3']);
  assert.ok(tasks.slice(2).every((task) => task.exit_code === 0));
  if (TEST_EXECUTOR === 'slurm') {
    // Step 3's Slurm job went on while no server ran and was attached to, not submitted again.
    const jobs = await second.store.db.selectFrom('job').select(['executor_job_id']).execute();
    const ids = jobs.map((job) => job.executor_job_id);
    assert.equal(jobs.length, 3, 'the second server made one new row, for step 3');
    assert.equal(new Set(ids).size, 2, `Slurm job ids: ${ids.join(', ')}`);
    assert.ok(ids.every((id) => id !== null));
  }
});

const ON_SLURM = TEST_EXECUTOR === 'slurm' && '1,000 Slurm jobs take ~10 minutes on the 2-CPU test cluster';

test('a scatter of 1,000 elements lists all 1,000 planned jobs while the run runs, queued until they run', { skip: ON_SLURM }, async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const numbers = Array.from({ length: 1000 }, (_, i) => i);
  const runId = await submitWorkflow(app, auth, 'scatter.cwl', { numbers }, [{ name: 'scatter.cwl', content: SCATTER_WORKFLOW }]);
  const seenWhileRunning: string[] = [];
  for (;;) {
    const { state } = await getJson<{ state: string }>(app, auth, `/runs/${runId}/status`);
    if (state !== 'RUNNING' && state !== 'QUEUED' && state !== 'INITIALIZING') break;
    const listed = await allTasks(app, auth, runId, 500);
    const queued = listed.filter((task) => task.state === 'queued').length;
    const complete = listed.filter((task) => task.state === 'complete').length;
    seenWhileRunning.push(`${listed.length} tasks, ${queued} queued, ${complete} complete`);
    await delay(200);
  }
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const tasks = await allTasks(app, auth, runId, 250);
  assert.deepEqual(tasks.map((task) => task.id), ['0', ...numbers.map((n) => `1.${n}`)]);
  assert.ok(tasks.slice(1).every((task) => task.exit_code === 0));
  // Planned up front: every job is listed (queued) before it runs, not only once it started.
  assert.ok(
    seenWhileRunning.some((seen) => /^1001 tasks, [1-9][0-9]* queued, [1-9][0-9]* complete$/.test(seen)),
    `seen while running: ${seenWhileRunning.join('; ')}`,
  );
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  const outs = log.outputs.outs as unknown as { location: string }[];
  assert.equal(outs.length, 1000);
  const last = await app.app.inject({ url: new URL(outs[999].location).pathname, headers: { authorization: auth } });
  assert.equal(last.body, '999\n');
});

test('on_error continue: one failed element leaves the others to complete; the run ends EXECUTOR_ERROR naming the count', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const scripts = ['echo a', 'exit 3', 'echo c', 'exit 4', 'echo e'];
  const runId = await submitWorkflow(app, auth, 'sh.cwl', { scripts }, [{ name: 'sh.cwl', content: SH_SCATTER_WORKFLOW }], {
    on_error: 'continue',
  });
  assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');
  const tasks = await allTasks(app, auth, runId, 100);
  assert.deepEqual(
    tasks.slice(1).map((task) => [task.id, task.state, task.exit_code]),
    [['1.0', 'complete', 0], ['1.1', 'failed', 3], ['1.2', 'complete', 0], ['1.3', 'failed', 4], ['1.4', 'complete', 0]],
  );
  const log = await getJson<{ run_log: { system_logs: string[] } }>(app, auth, `/runs/${runId}`);
  assert.match(log.run_log.system_logs.join('\n'), /2 jobs failed; the first: /);
});

test('subworkflow steps are tasks of the run, listed after their parent and found by id', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const runId = await submitWorkflow(app, auth, 'nested.cwl', { words: ['a', 'b'] }, [{ name: 'nested.cwl', content: NESTED_WORKFLOW }]);
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const tasks = await allTasks(app, auth, runId, 2);
  assert.deepEqual(
    tasks.map((task) => [task.id, task.name]),
    [['0', 'words'], ['1', 'inner'], ['1.0/0', 'w'], ['1.0/1', 'say'], ['1.1/0', 'w'], ['1.1/1', 'say'], ['2', 'maybe']],
  );
  const inner = await getJson<Record<string, unknown>>(app, auth, `/runs/${runId}/tasks/${encodeURIComponent('1.1/1')}`);
  assertMatchesSpec('TaskLog', inner);
  assert.deepEqual(inner.cmd, ['echo', 'b']);
  const stdout = await app.app.inject({ url: new URL(String(inner.stdout)).pathname, headers: { authorization: auth } });
  assert.equal(stdout.body, 'b\n');
  assert.deepEqual(tasks[6].system_logs, ["skipped: the step's `when` condition was false"]);
  const log = await getJson<{ outputs: Record<string, unknown> }>(app, auth, `/runs/${runId}`);
  assert.equal(log.outputs.maybe, null);
});

test('a cancel at any moment after submission ends the run CANCELED with nothing left running', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  for (const wait of [0, 5, 10, 15, 20, 30, 45, 60, 100]) {
    const marker = `wes-early-cancel-${randomUUID()}`;
    const runId = await submitWorkflow(app, auth, 'sleep.cwl', { marker }, [{ name: 'sleep.cwl', content: SLEEPING_TOOL }]);
    // Staggered so the cancel lands while queued, initializing or running.
    await delay(wait);
    const cancel = await app.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: auth } });
    assert.equal(cancel.statusCode, 200);
    assert.equal(await waitForState(app, auth, runId), 'CANCELED');
    await app.runner?.settled(await invocationIdOf(app, runId));
    assert.deepEqual(processesMentioning(marker), []);
  }
});

async function invocationIdOf(app: TestApp, runId: string): Promise<number> {
  const row = await app.store.db.selectFrom('workflow_invocation').select('id').where('uuid', '=', runId).executeTakeFirstOrThrow();
  return row.id;
}
