/**
 * Issue 10 over HTTP on seeded runs: state-filtered task pages, tokens bound to the filter,
 * `from`, top-N by resource use, the task summary and failure groups; query counts, spec
 * validation of every standard body, 400s and another user's 404s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse, assertMatchesSpec } from '../helpers/spec.js';
import { seedRun, seedShape } from '../../src/wes/seed.js';
import { runsDirOf } from '../../src/wes/run-service.js';
import type { FailureGroupsResponse, TaskListResponse, TaskSummary } from '../../src/wes/wes-types.js';

const MAX_QUERIES = 3;

async function get(app: TestApp, auth: string, url: string) {
  app.queries.reset();
  const response = await app.app.inject({ url: `/ga4gh/wes/v1${url}`, headers: { authorization: auth } });
  return { response, queries: app.queries.count };
}

/** Every page of a listing; asserts each is a valid TaskListResponse costing ≤ MAX_QUERIES. */
async function walk(app: TestApp, auth: string, url: string, pageSize: number) {
  const ids: string[] = [];
  const logs: TaskListResponse['task_logs'] = [];
  let token = '';
  do {
    const sep = url.includes('?') ? '&' : '?';
    const { response, queries } = await get(app, auth, `${url}${sep}page_size=${pageSize}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    assert.equal(response.statusCode, 200, response.body);
    const page = response.json() as TaskListResponse;
    assertMatchesSpec('TaskListResponse', page);
    assert.ok(queries <= MAX_QUERIES, `${queries} queries for ${url}`);
    ids.push(...page.task_logs.map((l) => l.id));
    logs.push(...page.task_logs);
    token = page.next_page_token;
  } while (token !== '');
  return { ids, logs };
}

async function setup(t: import('node:test').TestContext) {
  const app = await buildTestApp(t);
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  const steps = seedShape({ inputs: 2, steps: 60, mapped: 20, elements: 25 });
  const run = await seedRun(app.store.db, { userId: alice.userId, runsDir: runsDirOf(app.database.dataDir), steps, runningJobs: 5 });
  const all = await walk(app, alice.auth, `/runs/${run.runId}/tasks`, 1000);
  return { app, alice, bob, run, all };
}

test('?state= lists exactly the tasks in those states, in task order, at ≤ 3 queries a page', async (t) => {
  const { app, alice, run, all } = await setup(t);
  const cases: [string, (state: string) => boolean][] = [
    ['EXECUTOR_ERROR', (s) => s === 'failed'],
    ['failed', (s) => s === 'failed'],
    ['RUNNING&state=UNKNOWN', (s) => s === 'running' || s === 'none'],
    ['complete,running', (s) => s === 'complete' || s === 'running'],
    ['PAUSED', () => false],
  ];
  for (const [query, matches] of cases) {
    const { ids, logs } = await walk(app, alice.auth, `/runs/${run.runId}/tasks?state=${query}`, 7);
    assert.deepEqual(ids, all.logs.filter((l) => matches(l.state)).map((l) => l.id), query);
    assert.ok(logs.every((l) => matches(l.state)));
  }
  assert.ok(all.logs.some((l) => l.state === 'failed'), 'the seeded run has failures');
});

test('page tokens are bound to the filter; bad states, sorts and task ids are 400s', async (t) => {
  const { app, alice, run } = await setup(t);
  const failed = (await get(app, alice.auth, `/runs/${run.runId}/tasks?state=failed&page_size=1`)).response.json() as TaskListResponse;
  assert.notEqual(failed.next_page_token, '');
  const token = encodeURIComponent(failed.next_page_token);
  for (const url of [
    `/runs/${run.runId}/tasks?page_token=${token}`,
    `/runs/${run.runId}/tasks?state=complete&page_token=${token}`,
    `/runs/${run.runId}/tasks?sort=-duration&page_token=${token}`,
  ]) {
    assertErrorResponse((await get(app, alice.auth, url)).response, 400, /different listing|malformed/);
  }
  // The same filter spelled as its WES state is the same listing.
  assert.equal((await get(app, alice.auth, `/runs/${run.runId}/tasks?state=EXECUTOR_ERROR&page_token=${token}`)).response.statusCode, 200);
  for (const [url, message] of [
    [`/runs/${run.runId}/tasks?state=BROKEN`, /state "BROKEN"/],
    [`/runs/${run.runId}/tasks?sort=duration`, /sort must be/],
    [`/runs/${run.runId}/tasks?sort=-duration&state=failed`, /cannot be combined/],
    [`/runs/${run.runId}/tasks?from=01`, /from "01" is not a task id/],
    [`/runs/${run.runId}/tasks?from=3&sort=-duration`, /cannot be combined/],
    [`/runs/${run.runId}/tasks?failure_group=nonsense`, /failure_group/],
  ] as const) {
    assertErrorResponse((await get(app, alice.auth, url)).response, 400, message);
  }
});

test('?from= starts a page at that task, filtered or not', async (t) => {
  const { app, alice, run, all } = await setup(t);
  for (const start of [0, 1, 5, 40, all.ids.length - 1]) {
    const id = all.ids[start];
    const { ids } = await walk(app, alice.auth, `/runs/${run.runId}/tasks?from=${encodeURIComponent(id)}`, 50);
    assert.deepEqual(ids, all.ids.slice(start), id);
  }
  const id = all.ids[30];
  const { ids } = await walk(app, alice.auth, `/runs/${run.runId}/tasks?from=${id}&state=failed`, 3);
  assert.deepEqual(ids, all.logs.slice(30).filter((l) => l.state === 'failed').map((l) => l.id));
});

test('?sort=-max_rss and -duration page the measured tasks largest first; TaskLog shows resources', async (t) => {
  const { app, alice, run, all } = await setup(t);
  const db = app.store.db;
  const jobs = await db.selectFrom('job').select('id').orderBy('id').execute();
  for (const [i, job] of jobs.entries()) {
    if (i % 3 === 0) await db.updateTable('job').set({ max_rss_bytes: ((i * 37) % 101) * 1024, cpu_seconds: i / 10 }).where('id', '=', job.id).execute();
  }
  const { logs } = await walk(app, alice.auth, `/runs/${run.runId}/tasks?sort=-max_rss`, 9);
  const values = logs.map((l) => l.resources?.max_rss_bytes as number);
  assert.equal(logs.length, Math.ceil(jobs.length / 3));
  assert.deepEqual(values, [...values].sort((a, b) => b - a));
  assert.equal(new Set(logs.map((l) => l.id)).size, logs.length);
  const byDuration = await walk(app, alice.auth, `/runs/${run.runId}/tasks?sort=-duration`, 50);
  assert.equal(byDuration.ids.length, all.logs.filter((l) => l.end_time !== undefined).length);
  assert.ok(byDuration.logs.every((l) => typeof l.resources?.wall_seconds === 'number'));
});

test('task-summary equals the task list by state, per run and per step; task-failures groups the failures', async (t) => {
  const { app, alice, bob, run, all } = await setup(t);
  const { response, queries } = await get(app, alice.auth, `/runs/${run.runId}/task-summary`);
  assert.equal(response.statusCode, 200, response.body);
  assert.ok(queries <= 5, `${queries} queries`);
  const summary = response.json() as TaskSummary;
  const expected: Record<string, number> = {};
  for (const l of all.logs) expected[l.state] = (expected[l.state] ?? 0) + 1;
  assert.deepEqual(summary.states, expected);
  assert.equal(summary.total, all.ids.length);
  assert.equal(summary.wes_states.EXECUTOR_ERROR, expected.failed);
  assert.equal(summary.steps.reduce((n, s) => n + s.total, 0), all.ids.length);

  const failures = await get(app, alice.auth, `/runs/${run.runId}/task-failures?page_size=2`);
  assert.equal(failures.response.statusCode, 200, failures.response.body);
  assert.ok(failures.queries <= 4, `${failures.queries} queries`);
  const groups: FailureGroupsResponse['failure_groups'] = [];
  let body = failures.response.json() as FailureGroupsResponse;
  groups.push(...body.failure_groups);
  while (body.next_page_token !== '') {
    body = (await get(app, alice.auth, `/runs/${run.runId}/task-failures?page_size=2&page_token=${encodeURIComponent(body.next_page_token)}`)).response.json() as FailureGroupsResponse;
    groups.push(...body.failure_groups);
  }
  assert.equal(groups.reduce((n, g) => n + g.count, 0), expected.failed);
  for (const group of groups) {
    assert.equal(group.exit_code, 1);
    const members = await walk(app, alice.auth, `/runs/${run.runId}/tasks?failure_group=${encodeURIComponent(group.id)}`, 2);
    assert.equal(members.ids.length, group.count);
    assert.deepEqual(group.first_task_ids, members.ids.slice(0, 3));
    assert.ok(group.tasks_url.endsWith(`/runs/${run.runId}/tasks?failure_group=${encodeURIComponent(group.id)}`));
  }

  for (const url of [`/runs/${run.runId}/task-summary`, `/runs/${run.runId}/task-failures`, `/runs/${run.runId}/tasks?state=failed`]) {
    assertErrorResponse((await get(app, bob.auth, url)).response, 404);
  }
  // A group handle of another run names no group of this one.
  const other = await seedRun(app.store.db, { userId: alice.userId, runsDir: runsDirOf(app.database.dataDir), steps: seedShape({ inputs: 0, steps: 2, mapped: 0, elements: 0 }) });
  assertErrorResponse((await get(app, alice.auth, `/runs/${other.runId}/tasks?failure_group=${encodeURIComponent(groups[0].id)}`)).response, 400, /failure_group/);
});
