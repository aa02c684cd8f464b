/** ListTasks, GetTask and task logs over HTTP on seeded runs: order, tokens, query counts, errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse, assertMatchesSpec } from '../helpers/spec.js';
import { seedRun, type SeedStep } from '../../src/wes/seed.js';
import { runsDirOf } from '../../src/wes/run-service.js';

const MAX_QUERIES_PER_PAGE = 3;

/** The task ids a seeded shape must list, in order: derived from the shape alone. */
function expectedTaskIds(steps: readonly SeedStep[]): string[] {
  return steps.flatMap((s, i) =>
    s.kind === 'collection' && s.jobs > 0 ? Array.from({ length: s.jobs }, (_, j) => `${i}.${j}`) : [`${i}`],
  );
}

async function seeded(app: TestApp, userId: number, steps: readonly SeedStep[], runningJobs = 0) {
  return seedRun(app.store.db, { userId, runsDir: runsDirOf(app.database.dataDir), steps, runningJobs });
}

interface TaskPage {
  task_logs: Record<string, unknown>[];
  next_page_token: string;
}

async function walk(app: TestApp, auth: string, runId: string, pageSize: number) {
  const tasks: Record<string, unknown>[] = [];
  const queryCounts: number[] = [];
  let token = '';
  do {
    app.queries.reset();
    const response = await app.app.inject({
      url: `/ga4gh/wes/v1/runs/${runId}/tasks?page_size=${pageSize}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`,
      headers: { authorization: auth },
    });
    queryCounts.push(app.queries.count);
    assert.equal(response.statusCode, 200, response.body);
    const page = response.json() as TaskPage;
    assertMatchesSpec('TaskListResponse', page);
    assert.ok(page.task_logs.length <= pageSize);
    tasks.push(...page.task_logs);
    token = page.next_page_token;
  } while (token !== '');
  return { tasks, queryCounts };
}

test('walking pages of random runs returns every task once, in order, each equal to its lookup', async (t) => {
  const app = await buildTestApp(t);
  const { auth, userId } = await app.addUser('alice');
  const step = fc.oneof(
    fc.constant<SeedStep>({ kind: 'input' }),
    fc.constant<SeedStep>({ kind: 'single' }),
    fc.nat({ max: 12 }).map<SeedStep>((jobs) => ({ kind: 'collection', jobs })),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 9 }), async (steps, pageSize) => {
      const run = await seeded(app, userId, steps, 2);
      const { tasks, queryCounts } = await walk(app, auth, run.runId, pageSize);
      assert.deepEqual(tasks.map((task) => task.id), expectedTaskIds(steps));
      assert.ok(Math.max(...queryCounts) <= MAX_QUERIES_PER_PAGE, `queries per page: ${queryCounts.join(',')}`);
      for (const task of tasks) {
        app.queries.reset();
        const one = await app.app.inject({
          url: `/ga4gh/wes/v1/runs/${run.runId}/tasks/${encodeURIComponent(String(task.id))}`,
          headers: { authorization: auth },
        });
        assert.ok(app.queries.count <= MAX_QUERIES_PER_PAGE);
        assertMatchesSpec('TaskLog', one.json());
        assert.deepEqual(one.json(), task);
      }
    }),
    { numRuns: 12 },
  );
});

test('the first, a middle and the last page cost the same number of queries', async (t) => {
  const app = await buildTestApp(t);
  const { auth, userId } = await app.addUser('alice');
  const steps: SeedStep[] = [{ kind: 'input' }, ...Array.from({ length: 30 }, (_, i): SeedStep => (i % 2 ? { kind: 'single' } : { kind: 'collection', jobs: 40 }))];
  const run = await seeded(app, userId, steps);
  const { tasks, queryCounts } = await walk(app, auth, run.runId, 25);
  assert.equal(tasks.length, run.tasks);
  assert.equal(new Set(queryCounts).size, 1, `queries per page differ: ${queryCounts.join(',')}`);
  assert.ok(queryCounts[0] <= MAX_QUERIES_PER_PAGE);
});

test('TaskLog fields: names, commands, times only when known, exit codes, absolute log URLs', async (t) => {
  const app = await buildTestApp(t);
  const { auth, userId } = await app.addUser('alice');
  const run = await seeded(app, userId, [{ kind: 'input' }, { kind: 'single' }, { kind: 'collection', jobs: 3 }, { kind: 'collection', jobs: 0 }], 1);
  const { tasks } = await walk(app, auth, run.runId, 50);
  const byId = new Map(tasks.map((task) => [task.id, task]));
  assert.deepEqual(byId.get('0'), { id: '0', name: 'input_0', state: 'none' });
  assert.deepEqual(byId.get('3'), { id: '3', name: 'tool_3.cwl', state: 'none' });
  const single = byId.get('1') ?? {};
  assert.equal(single.name, 'step 1');
  assert.deepEqual(single.cmd, ['tool', '--step=1', '--element=0']);
  assert.equal(single.exit_code, 0);
  assert.match(String(single.start_time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(String(single.end_time), /Z$/);
  assert.equal(single.stdout, `http://localhost:80/ga4gh/wes/v1/runs/${run.runId}/tasks/1/stdout`);
  const running = byId.get('2.2') ?? {};
  assert.equal(running.name, 'step 2');
  assert.ok(!('exit_code' in running) && !('end_time' in running) && 'start_time' in running, JSON.stringify(running));
});

test('task lookups by ids that do not parse or do not exist are 404s', async (t) => {
  const app = await buildTestApp(t);
  const { auth, userId } = await app.addUser('alice');
  const run = await seeded(app, userId, [{ kind: 'input' }, { kind: 'single' }, { kind: 'collection', jobs: 3 }]);
  for (const id of ['abc', '01', '1.0', '0.0', '2', '2.3', '2.-1', '9', '2%2F1', '1.0.0', '%20']) {
    const response = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${run.runId}/tasks/${id}`, headers: { authorization: auth } });
    assertErrorResponse(response, 404, /not found/);
  }
  const noLog = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${run.runId}/tasks/0/stdout`, headers: { authorization: auth } });
  assertErrorResponse(noLog, 404, /has no stdout/);
});

test('page tokens are bound to their run, tamper-evident, and page_size is bounded', async (t) => {
  const app = await buildTestApp(t);
  const { auth, userId } = await app.addUser('alice');
  const a = await seeded(app, userId, [{ kind: 'collection', jobs: 5 }]);
  const b = await seeded(app, userId, [{ kind: 'collection', jobs: 5 }]);
  const first = (await app.app.inject({ url: `/ga4gh/wes/v1/runs/${a.runId}/tasks?page_size=2`, headers: { authorization: auth } })).json() as TaskPage;
  const token = first.next_page_token;
  assert.notEqual(token, '');
  const foreign = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${b.runId}/tasks?page_token=${encodeURIComponent(token)}`, headers: { authorization: auth } });
  assertErrorResponse(foreign, 400, /different listing/);
  const flipped = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6);
  const tampered = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${a.runId}/tasks?page_token=${encodeURIComponent(flipped)}`, headers: { authorization: auth } });
  assertErrorResponse(tampered, 400, /page_token/);
  for (const query of ['page_size=0', 'page_size=1001', 'page_size=-3', 'page_size=x', 'page_token=a.b']) {
    const response = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${a.runId}/tasks?${query}`, headers: { authorization: auth } });
    assertErrorResponse(response, 400, /page_size|page_token/);
  }
  const defaults = (await app.app.inject({ url: `/ga4gh/wes/v1/runs/${a.runId}/tasks`, headers: { authorization: auth } })).json() as TaskPage;
  assert.deepEqual(defaults.task_logs.map((task) => task.id), ['0.0', '0.1', '0.2', '0.3', '0.4']);
  assert.equal(defaults.next_page_token, '');
});

test('task logs are served as text/plain and honour Range over a real socket', async (t) => {
  const app = await buildTestApp(t);
  const { auth, userId } = await app.addUser('alice');
  const run = await seeded(app, userId, [{ kind: 'single' }]);
  const base = await app.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `${base}/ga4gh/wes/v1/runs/${run.runId}/tasks/0/stdout`;
  const whole = await fetch(url, { headers: { authorization: auth } });
  assert.equal(whole.status, 200);
  assert.match(whole.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(await whole.text(), 'stdout of step 0\n');
  const part = await fetch(url, { headers: { authorization: auth, range: 'bytes=7-8' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 7-8/17');
  assert.equal(await part.text(), 'of');
  const tail = await fetch(url, { headers: { authorization: auth, range: 'bytes=-5' } });
  assert.equal(await tail.text(), 'ep 0\n');
  const beyond = await fetch(url, { headers: { authorization: auth, range: 'bytes=100-' } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), 'bytes */17');
  const stderr = await fetch(url.replace(/stdout$/, 'stderr'), { headers: { authorization: auth } });
  assert.equal(await stderr.text(), 'stderr of step 0\n');
  const unauthenticated = await fetch(url);
  assert.equal(unauthenticated.status, 401);
});

test('task-counts counts every task of the run by its TaskLog state, for the owner only', async (t) => {
  const app = await buildTestApp(t);
  const { auth, userId } = await app.addUser('alice');
  const other = await app.addUser('bob');
  const run = await seeded(app, userId, [{ kind: 'input' }, { kind: 'single' }, { kind: 'collection', jobs: 6 }, { kind: 'collection', jobs: 0 }], 2);
  const response = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${run.runId}/task-counts`, headers: { authorization: auth } });
  assert.equal(response.statusCode, 200, response.body);
  const counts = response.json() as { total: number; states: Record<string, number> };
  assert.equal(counts.total, run.tasks);
  assert.equal(Object.values(counts.states).reduce((a, b) => a + b, 0), run.tasks);
  assert.equal(counts.states.none, 2);
  assert.equal(counts.states.running, 2);
  const { tasks } = await walk(app, auth, run.runId, 50);
  for (const [state, n] of Object.entries(counts.states)) assert.equal(tasks.filter((task) => task.state === state).length, n, state);
  const foreign = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${run.runId}/task-counts`, headers: { authorization: other.auth } });
  assertErrorResponse(foreign, 404);
});
