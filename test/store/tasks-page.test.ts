/**
 * The task listing queries on the real database: plans are index range scans, the page
 * query costs the same at the end of a run as at its start, and direct lookups agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findTask, listTasksPage, type TaskCursor } from '../../src/store/queries/tasks.js';
import { insertUser } from '../../src/store/queries/users.js';
import { parseTaskId } from '../../src/store/task-path.js';
import { seedRun, seedShape } from '../../src/wes/seed.js';
import { taskIdOf } from '../../src/wes/to-wes.js';
import { CompiledQuery } from 'kysely';
import { assertIndexOnlyPlan, storeWithLastQuery } from '../helpers/explain.js';

async function seededStore(t: import('node:test').TestContext) {
  const { store, database, lastQuery } = await storeWithLastQuery(t);
  const user = await insertUser(store.db, 'u', false, new Date().toISOString());
  // 1,000 steps, half mapped over 8 elements, some collections still empty: realistic statistics for the planner.
  const steps = seedShape({ inputs: 3, steps: 1000, mapped: 500, elements: 8 }).map((s, i) =>
    s.kind === 'collection' && i % 50 === 0 ? { kind: 'collection' as const, jobs: 0 } : s,
  );
  const run = await seedRun(store.db, { userId: user.id, runsDir: database.dataDir, steps, logs: false });
  if (store.dialect === 'postgres') await store.db.executeQuery(CompiledQuery.raw('analyze'));
  return { store, run, steps, lastQuery };
}

test('task pages and lookups are index range scans at the start, middle and end of a run', async (t) => {
  const { store, run, lastQuery } = await seededStore(t);
  const cursors: (TaskCursor | undefined)[] = [
    undefined,
    { sortKey: '000001f400000000', jobIndex: -1 },
    { sortKey: '000001f500000000', jobIndex: 3 },
    { sortKey: '000003e800000000', jobIndex: 6 },
  ];
  for (const cursor of cursors) {
    await listTasksPage(store.db, run.invocationId, cursor, 101);
    const { sql, parameters } = lastQuery();
    await assertIndexOnlyPlan(store, sql, parameters);
  }
  for (const [path, job] of [['500', undefined], ['501', 3], ['0', undefined]] as const) {
    await findTask(store.db, run.invocationId, path, job);
    const { sql, parameters } = lastQuery();
    await assertIndexOnlyPlan(store, sql, parameters);
  }
});

test('walking every page yields each task once, in order, equal to its direct lookup', async (t) => {
  const { store, run, steps } = await seededStore(t);
  const expected = steps.flatMap((s, i) =>
    s.kind === 'collection' && s.jobs > 0 ? Array.from({ length: s.jobs }, (_, j) => `${i}.${j}`) : [`${i}`],
  );
  const seen: string[] = [];
  let cursor: TaskCursor | undefined;
  for (;;) {
    const rows = await listTasksPage(store.db, run.invocationId, cursor, 257);
    for (const row of rows) {
      const id = taskIdOf(row);
      seen.push(id);
      if (seen.length % 97 === 0) {
        const parsed = parseTaskId(id);
        assert.ok(parsed);
        assert.deepEqual(await findTask(store.db, run.invocationId, parsed.stepPath, parsed.jobIndex), row);
      }
    }
    if (rows.length < 257) break;
    const last = rows[rows.length - 1];
    cursor = { sortKey: last.sort_key, jobIndex: last.job_index };
  }
  assert.deepEqual(seen, expected);
});
