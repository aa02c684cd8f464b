/** ListRuns filtered by state and tags: every shape is an index range scan, pages walk in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledQuery } from 'kysely';
import { insertRun, listRunsPage, type RunCursor, type RunFilter } from '../../src/store/queries/runs.js';
import { insertUser } from '../../src/store/queries/users.js';
import { RUN_STATES } from '../../src/run-state.js';
import os from 'node:os';
import { countUnfinishedJobs } from '../../src/store/queries/jobs.js';
import { seedRun, seedShape } from '../../src/wes/seed.js';
import { assertIndexOnlyPlan, storeWithLastQuery } from '../helpers/explain.js';

test('filtered run pages are index range scans and return exactly the matching runs, newest first', async (t) => {
  const { store, lastQuery } = await storeWithLastQuery(t);
  const now = new Date().toISOString();
  const users = [await insertUser(store.db, 'u', false, now), await insertUser(store.db, 'v', false, now)];
  const runs: { uuid: string; userId: number; state: string; tags: Record<string, string>; createTime: string }[] = [];
  await store.db.transaction().execute(async (trx) => {
    for (let i = 0; i < 600; i++) {
      const userId = users[i % 2].id;
      const state = RUN_STATES[i % RUN_STATES.length];
      const tags = { project: `p${i % 5}`, ...(i % 3 === 0 ? { batch: 'x' } : {}) };
      const createTime = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
      const uuid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      runs.push({ uuid, userId, state, tags, createTime });
      await insertRun(
        trx,
        { uuid, user_id: userId, workflow_id: null, state, request: JSON.stringify({ tags }), run_dir: '/x', outputs: null, message: null, create_time: createTime, start_time: null, end_time: null, update_time: createTime },
        tags,
      );
    }
  });
  if (store.dialect === 'postgres') await store.db.executeQuery(CompiledQuery.raw('analyze'));

  const filters: RunFilter[] = [
    {},
    { state: 'COMPLETE' },
    { tags: [{ name: 'project', value: 'p2' }] },
    { state: 'RUNNING', tags: [{ name: 'project', value: 'p1' }] },
    { tags: [{ name: 'project', value: 'p3' }, { name: 'batch', value: 'x' }] },
  ];
  const userId = users[0].id;
  for (const filter of filters) {
    const expected = runs
      .filter((r) => r.userId === userId)
      .filter((r) => filter.state === undefined || r.state === filter.state)
      .filter((r) => (filter.tags ?? []).every((tag) => r.tags[tag.name] === tag.value))
      .reverse()
      .map((r) => r.uuid);
    const seen: string[] = [];
    let cursor: RunCursor | undefined;
    for (;;) {
      const page = await listRunsPage(store.db, userId, cursor, 7, filter);
      await assertIndexOnlyPlan(store, lastQuery().sql, lastQuery().parameters);
      seen.push(...page.map((r) => r.uuid));
      if (page.length < 7) break;
      cursor = { createTime: page[6].create_time, uuid: page[6].uuid };
    }
    assert.deepEqual(seen, expected, JSON.stringify(filter));
  }
});

test('counting unfinished jobs for /metrics reads only job_state_idx', async (t) => {
  const { store, lastQuery } = await storeWithLastQuery(t);
  const user = await insertUser(store.db, 'u', false, new Date().toISOString());
  await seedRun(store.db, { userId: user.id, runsDir: os.tmpdir(), steps: seedShape({ inputs: 1, steps: 20, mapped: 5, elements: 40 }), runningJobs: 7, logs: false });
  if (store.dialect === 'postgres') await store.db.executeQuery(CompiledQuery.raw('analyze'));
  const counts = await countUnfinishedJobs(store.db);
  assert.equal(counts.get('running'), 7);
  await assertIndexOnlyPlan(store, lastQuery().sql, lastQuery().parameters);
});
