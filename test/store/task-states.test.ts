/**
 * Task states, counters, failure groups and resource use in the store (migration 0006): every
 * new query is an index range read bounded by its LIMIT on both databases, filtered walks
 * equal the filtered task order, and the trigger-kept counters equal a full count after any
 * sequence of state changes, two concurrent writers included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CompiledQuery, type Kysely } from 'kysely';
import {
  listTasksByUsagePage,
  listTasksPage,
  BEFORE_STEP,
  type TaskCursor,
  type TaskFilter,
  type TaskRow,
} from '../../src/store/queries/tasks.js';
import {
  listFailureGroupsPage,
  listFirstTasksOfGroups,
  listStepStateCounts,
  listStepUsage,
} from '../../src/store/queries/task-summary.js';
import { applyJobChanges, attachSingleJob, insertJobs, planCollectionJobs } from '../../src/store/queries/jobs.js';
import { insertUser } from '../../src/store/queries/users.js';
import { seedRun, seedShape, type SeedStep } from '../../src/wes/seed.js';
import { taskIdOf } from '../../src/wes/to-wes.js';
import type { Database } from '../../src/store/database.js';
import type { JobState, TaskRowState } from '../../src/store/tables/job.table.js';
import { assertIndexOnlyPlan, storeWithLastQuery } from '../helpers/explain.js';

const JOB_STATES: readonly JobState[] = ['new', 'queued', 'running', 'ok', 'error', 'skipped', 'canceled'];

async function walk(db: Kysely<Database>, invocationId: number, pageSize: number, filter?: TaskFilter): Promise<TaskRow[]> {
  const rows: TaskRow[] = [];
  let cursor: TaskCursor | undefined;
  for (;;) {
    const page = await listTasksPage(db, invocationId, cursor, pageSize, filter);
    rows.push(...page);
    if (page.length < pageSize) return rows;
    const last = page[page.length - 1];
    cursor = { sortKey: last.sort_key, jobIndex: last.job_index };
  }
}

/** The task's state as the counters and filters see it. */
function stateOf(row: TaskRow): TaskRowState {
  return row.job_state ?? 'none';
}

async function countersByState(db: Kysely<Database>, invocationId: number): Promise<Map<TaskRowState, number>> {
  const counts = new Map<TaskRowState, number>();
  for (const row of await listStepStateCounts(db, invocationId)) counts.set(row.task_state, (counts.get(row.task_state) ?? 0) + row.n);
  return counts;
}

/** The reference the counters must equal: every listed task's job state, counted from the tasks themselves. */
async function fullCountByState(db: Kysely<Database>, invocationId: number): Promise<Map<TaskRowState, number>> {
  const stepLevel = db
    .selectFrom('workflow_invocation_step as s')
    .leftJoin('job as j', 'j.id', 's.job_id')
    .select(['j.state as state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('s.workflow_invocation_id', '=', invocationId)
    .where('s.collection_job_count', '=', 0)
    .groupBy('j.state');
  const collectionJobs = db
    .selectFrom('implicit_collection_jobs_job_association as a')
    .innerJoin('job as j', 'j.id', 'a.job_id')
    .select(['j.state as state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('a.workflow_invocation_id', '=', invocationId)
    .groupBy('j.state');
  const counts = new Map<TaskRowState, number>();
  for (const row of await stepLevel.unionAll(collectionJobs).execute()) {
    const state = row.state ?? 'none';
    counts.set(state, (counts.get(state) ?? 0) + Number(row.n));
  }
  return counts;
}

test('filtered, failure-group, usage and summary queries are index range reads at the start, middle and end', async (t) => {
  const { store, database, lastQuery } = await storeWithLastQuery(t);
  const user = await insertUser(store.db, 'u', false, new Date().toISOString());
  const steps = seedShape({ inputs: 3, steps: 1000, mapped: 500, elements: 8 }).map((s, i) =>
    s.kind === 'collection' && i % 50 === 0 ? { kind: 'collection' as const, jobs: 0 } : s,
  );
  const run = await seedRun(store.db, { userId: user.id, runsDir: database.dataDir, steps, logs: false, runningJobs: 40 });
  await store.db.updateTable('job').set({ cpu_seconds: 1.5, max_rss_bytes: 1000 }).where('state', '=', 'ok').execute();
  if (store.dialect === 'postgres') await store.db.executeQuery(CompiledQuery.raw('analyze'));
  const check = async () => {
    const { sql, parameters } = lastQuery();
    await assertIndexOnlyPlan(store, sql, parameters);
  };
  const cursors: (TaskCursor | undefined)[] = [
    undefined,
    { sortKey: '000001f400000000', jobIndex: BEFORE_STEP },
    { sortKey: '000001f500000000', jobIndex: 3 },
    { sortKey: '000003e800000000', jobIndex: 6 },
  ];
  const groups = await listFailureGroupsPage(store.db, run.invocationId, 0, 20);
  assert.ok(groups.length > 0);
  await check();
  const filters: TaskFilter[] = [{ states: ['error'] }, { states: ['ok', 'running', 'none'] }, { failureGroupId: groups[0].id }];
  for (const filter of filters) {
    for (const cursor of cursors) {
      await listTasksPage(store.db, run.invocationId, cursor, 101, filter);
      await check();
    }
  }
  for (const column of ['wall_ms', 'max_rss_bytes'] as const) {
    const first = await listTasksByUsagePage(store.db, run.invocationId, column, undefined, 20);
    await check();
    const last = first[first.length - 1];
    await listTasksByUsagePage(store.db, run.invocationId, column, { value: last.sort_value, sortKey: last.sort_key, jobIndex: last.job_index }, 20);
    await check();
  }
  await listStepStateCounts(store.db, run.invocationId);
  await check();
  await listStepUsage(store.db, run.invocationId);
  await check();
  await listFirstTasksOfGroups(store.db, run.invocationId, groups.slice(0, 5).map((g) => g.id), 3);
  await check();
});

test('usage pages list the largest values first, then by task order backwards, each task once', async (t) => {
  const { store, database } = await storeWithLastQuery(t);
  const user = await insertUser(store.db, 'u', false, new Date().toISOString());
  const run = await seedRun(store.db, { userId: user.id, runsDir: database.dataDir, steps: seedShape({ inputs: 1, steps: 30, mapped: 10, elements: 5 }), logs: false });
  const all = await walk(store.db, run.invocationId, 1000);
  const jobs = all.filter((row) => row.job_id !== null);
  for (const [i, row] of jobs.entries()) {
    await store.db.updateTable('job').set({ max_rss_bytes: (i * 7919) % 13 }).where('id', '=', row.job_id as number).execute();
  }
  const valueOf = new Map(jobs.map((row, i) => [taskIdOf(row), (i * 7919) % 13]));
  const expected = jobs
    .map((row) => ({ id: taskIdOf(row), value: valueOf.get(taskIdOf(row)) as number, position: all.indexOf(row) }))
    .sort((a, b) => b.value - a.value || b.position - a.position)
    .map((e) => e.id);
  const seen: string[] = [];
  let after;
  for (;;) {
    const page = await listTasksByUsagePage(store.db, run.invocationId, 'max_rss_bytes', after, 7);
    seen.push(...page.map(taskIdOf));
    if (page.length < 7) break;
    const last = page[page.length - 1];
    after = { value: last.sort_value, sortKey: last.sort_key, jobIndex: last.job_index };
  }
  assert.deepEqual(seen, expected);
});

const shape = fc.array(
  fc.oneof(
    fc.constant<SeedStep>({ kind: 'input' }),
    fc.constant<SeedStep>({ kind: 'single' }),
    fc.nat({ max: 9 }).map<SeedStep>((jobs) => ({ kind: 'collection', jobs })),
  ),
  { minLength: 1, maxLength: 14 },
);
const change = fc.record({ task: fc.nat(), state: fc.constantFrom(...JOB_STATES), exitCode: fc.nat({ max: 2 }), tail: fc.constantFrom('', 'oops', 'disk full') });

test('filtered walks equal the filtered task order and counters equal a full count after concurrent state changes', async (t) => {
  const { store, database } = await storeWithLastQuery(t);
  const user = await insertUser(store.db, 'u', false, new Date().toISOString());
  await fc.assert(
    fc.asyncProperty(
      shape,
      fc.array(change, { maxLength: 30 }),
      fc.array(change, { maxLength: 30 }),
      fc.integer({ min: 1, max: 6 }),
      async (steps, writerA, writerB, pageSize) => {
        const run = await seedRun(store.db, { userId: user.id, runsDir: database.dataDir, steps, logs: false, runningJobs: 3 });
        const jobTasks = (await walk(store.db, run.invocationId, 1000)).filter((row) => row.job_id !== null);
        // Two writers, each its own transaction per change (as the runner and a batched writer are).
        const apply = async (changes: typeof writerA) => {
          for (const c of changes) {
            if (jobTasks.length === 0) return;
            const jobId = jobTasks[c.task % jobTasks.length].job_id as number;
            await store.db.transaction().execute(async (trx) => {
              const time = new Date().toISOString();
              if (c.state === 'running') await applyJobChanges(trx, [{ jobId, state: 'running', startTime: time }]);
              else {
                await trx.updateTable('job').set({ stderr_tail: c.tail }).where('id', '=', jobId).execute();
                await applyJobChanges(trx, [{ jobId, state: c.state, exitCode: c.exitCode, endTime: time }]);
              }
            });
          }
        };
        await Promise.all([apply(writerA), apply(writerB)]);
        // A step that had no jobs yet gets some: its step-level task leaves the list and the counts.
        const empty = steps.findIndex((s) => s.kind === 'collection' && s.jobs === 0);
        if (empty >= 0) await addJobsToEmptyCollection(store.db, run.invocationId, empty);
        // An element re-linked to a new job (the runner no longer does this, but the triggers must
        // stay right for any writer), and a single-job step given a new job, as a resumed run does.
        const collectionJob = jobTasks.find((row) => row.job_index >= 0);
        if (collectionJob !== undefined) await replaceElementJob(store.db, run.invocationId, collectionJob.task_path, collectionJob.job_index);
        const singleJob = jobTasks.find((row) => row.job_index < 0);
        if (singleJob !== undefined) await replaceSingleJob(store.db, run.invocationId, singleJob.task_path);

        const all = await walk(store.db, run.invocationId, 1000);
        assert.deepEqual(await countersByState(store.db, run.invocationId), await fullCountByState(store.db, run.invocationId));
        for (const states of [['error'], ['ok', 'none'], ['running', 'queued', 'canceled', 'skipped', 'new']] as TaskRowState[][]) {
          const filtered = await walk(store.db, run.invocationId, pageSize, { states });
          assert.deepEqual(filtered.map(taskIdOf), all.filter((row) => states.includes(stateOf(row))).map(taskIdOf));
        }
        const failed = all.filter((row) => row.job_state === 'error');
        const groups = await listFailureGroupsPage(store.db, run.invocationId, 0, 1000);
        assert.equal(groups.reduce((n, g) => n + g.n, 0), failed.length);
        for (const group of groups) {
          const members = await walk(store.db, run.invocationId, pageSize, { failureGroupId: group.id });
          assert.equal(members.length, group.n);
          assert.ok(members.every((row) => row.job_state === 'error' && (row.exit_code ?? -1) === group.exit_code));
        }
      },
    ),
    { numRuns: 10 },
  );
});

function queuedJob(now: string) {
  return { state: 'queued' as const, argv: '[]', exit_code: null, work_dir: null, stdout_path: null, stderr_path: null, outputs: null, message: null, create_time: now, start_time: null, end_time: null };
}

async function stepOf(db: Kysely<Database>, invocationId: number, taskPath: string) {
  return db
    .selectFrom('workflow_invocation_step')
    .select(['id', 'implicit_collection_jobs_id', 'sort_key'])
    .where('workflow_invocation_id', '=', invocationId)
    .where('task_path', '=', taskPath)
    .executeTakeFirstOrThrow();
}

async function replaceElementJob(db: Kysely<Database>, invocationId: number, taskPath: string, element: number): Promise<void> {
  const step = await stepOf(db, invocationId, taskPath);
  await db.transaction().execute(async (trx) => {
    const [jobId] = await insertJobs(trx, [queuedJob(new Date().toISOString())]);
    await trx
      .updateTable('implicit_collection_jobs_job_association')
      .set({ job_id: jobId })
      .where('implicit_collection_jobs_id', '=', step.implicit_collection_jobs_id as number)
      .where('order_index', '=', element)
      .execute();
  });
}

async function replaceSingleJob(db: Kysely<Database>, invocationId: number, taskPath: string): Promise<void> {
  const step = await stepOf(db, invocationId, taskPath);
  const now = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    const [jobId] = await insertJobs(trx, [queuedJob(now)]);
    await attachSingleJob(trx, step.id, jobId, now);
  });
}

/** Gives the collection of top-level step `order` (which has none yet) two queued jobs, as a scatter's planning does. */
async function addJobsToEmptyCollection(db: Kysely<Database>, invocationId: number, order: number): Promise<void> {
  const step = await stepOf(db, invocationId, String(order));
  const now = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    const collection = { stepId: step.id, collectionId: step.implicit_collection_jobs_id as number, invocationId, sortKey: step.sort_key };
    await planCollectionJobs(trx, collection, [0, 1], now);
  });
}
