/**
 * Run leases in the store: which runs are claimable, that concurrent claims never take one run
 * twice, that a heartbeat fails once the lease expired, that outcomes are fenced by the lease,
 * and that every lease query is one index range scan (or primary-key probe) on both databases.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledQuery } from 'kysely';
import { openStore, type Store } from '../../src/store/connect.js';
import { insertRun, markRunState } from '../../src/store/queries/runs.js';
import { insertUser } from '../../src/store/queries/users.js';
import {
  claimRun,
  claimRuns,
  insertServer,
  listLeasedRunIds,
  listLiveServers,
  listServersOfHost,
  releaseExpiredServers,
  releaseServers,
  renewServer,
} from '../../src/store/queries/leases.js';
import { RUN_STATES, type RunState } from '../../src/run-state.js';
import { createTestDatabase } from '../helpers/dialects.js';
import { assertIndexOnlyPlan } from '../helpers/explain.js';
import type { CapturedQuery } from '../helpers/plan-verdict.js';

const server = (pid: number) => ({ process_key: `h/b/${pid}/1`, host: 'h', pid, start_time: new Date().toISOString() });

/** A fresh database with one user, and a store that keeps every query it ran since the last take(). */
async function setUp(t: TestContext) {
  const database = await createTestDatabase();
  const queries: CapturedQuery[] = [];
  const store = await openStore({ ...database, onQuery: (sql, parameters) => queries.push({ sql, parameters }) });
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  const now = new Date().toISOString();
  return {
    database,
    store,
    db: store.db,
    now,
    user: await insertUser(store.db, 'u', false, now),
    /** The queries since the last call, without transaction control and the EXPLAINs of assertPlans. */
    take(): CapturedQuery[] {
      return queries.splice(0).filter((q) => !/^(begin|commit|rollback|explain|set local)/i.test(q.sql));
    },
  };
}

async function assertPlans(store: Store, queries: readonly CapturedQuery[]): Promise<void> {
  assert.ok(queries.length > 0);
  for (const q of queries) await assertIndexOnlyPlan(store, q.sql, q.parameters);
}

test('claims take only active runs no live server drives, each once, through index range scans', async (t) => {
  const { database, store, db, now, user, take } = await setUp(t);
  // A second server's connections; closed before the database is dropped (after hooks run later).
  const other = await openStore(database);
  const live = await insertServer(db, server(1), 60);
  const expired = await insertServer(db, server(2), 0);
  const me = await insertServer(db, server(3), 60);
  const you = await insertServer(db, server(4), 60);
  const released = await insertServer(db, server(5), 60);
  // 400 runs over every state, driven by nobody, a live server, an expired one or one that is released.
  const drivers = [null, live.id, expired.id, released.id];
  const unowned = new Set<number>();
  const freed = new Set<number>();
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < 400; i++) {
      const state = RUN_STATES[i % RUN_STATES.length];
      const run = await insertRun(trx, {
        uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, user_id: user.id, workflow_id: null, state,
        request: '{}', run_dir: '/x', outputs: null, message: null, create_time: now, start_time: null, end_time: null, update_time: now,
      });
      const driver = drivers[Math.floor(i / RUN_STATES.length) % drivers.length];
      await trx.updateTable('workflow_invocation').set({ server_id: driver }).where('id', '=', run.id).execute();
      if (!['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'].includes(state)) continue;
      if (driver === null) unowned.add(run.id);
      else if (driver !== live.id) freed.add(run.id);
    }
  });
  if (store.dialect === 'postgres') await db.executeQuery(CompiledQuery.raw('analyze'));

  take();
  const first = await claimRuns(db, me.id, 5);
  const claimQueries = take();
  assert.equal(claimQueries.length, 1, claimQueries.map((q) => q.sql).join('\n'));
  await assertPlans(store, claimQueries);
  assert.equal(first.length, 5);
  const rest = await claimRuns(db, me.id, 1000);
  assert.deepEqual(new Set([...first, ...rest].map((r) => r.id)), unowned, 'only runs no server drives are claimable');

  // Servers that expired or are released lose their runs; two servers claiming at once split them.
  take();
  await releaseExpiredServers(db);
  await releaseServers(db, [released.id]);
  await assertPlans(store, take());
  assert.deepEqual((await listLiveServers(db)).map((s) => s.id).sort(), [live.id, me.id, you.id].sort());
  // In small batches, so that the two servers' claims interleave.
  const drain = async (store: Store, serverId: number) => {
    const taken: Awaited<ReturnType<typeof claimRuns>> = [];
    for (let batch = await claimRuns(store.db, serverId, 3); batch.length > 0; batch = await claimRuns(store.db, serverId, 3)) taken.push(...batch);
    return taken;
  };
  const [mine, yours] = await Promise.all([drain(store, me.id), drain(other, you.id)]);
  const split = [...mine, ...yours].map((r) => r.id);
  assert.equal(new Set(split).size, split.length, 'a run was claimed twice');
  assert.deepEqual(new Set(split), freed);
  assert.deepEqual(await claimRuns(db, me.id, 10), []);

  const queued = await insertRun(db, {
    uuid: '00000000-0000-4000-8000-999999999999', user_id: user.id, workflow_id: null, state: 'QUEUED',
    request: '{}', run_dir: '/x', outputs: null, message: null, create_time: now, start_time: null, end_time: null, update_time: now,
  });
  take();
  assert.equal(await claimRun(db, me.id, queued.id), true);
  assert.equal(await claimRun(other.db, you.id, queued.id), false, 'a run leased to a live server was claimed');
  await assertPlans(store, take());

  // The heartbeat's cancel check: one query for all of a server's runs in a state.
  const canceling = [...first, ...rest, ...mine].filter((r) => r.state === 'CANCELING').map((r) => r.id);
  assert.deepEqual((await listLeasedRunIds(db, me.id, 'CANCELING')).sort((a, b) => a - b), canceling.sort((a, b) => a - b));
  await assertPlans(store, take());
  await other.close();
});

test('a heartbeat fails once the lease expired; outcomes are recorded only by the lease holder; server queries use indexes', async (t) => {
  const { store, db, now, user, take } = await setUp(t);
  const holder = await insertServer(db, server(1), 60);
  const lapsed = await insertServer(db, server(2), 0);
  for (let i = 0; i < 50; i++) await insertServer(db, { ...server(100 + i), host: `h${i % 5}` }, i % 2 === 0 ? 60 : 0);
  if (store.dialect === 'postgres') await db.executeQuery(CompiledQuery.raw('analyze'));
  take();

  assert.equal(await renewServer(db, holder.id, 60), true);
  assert.equal(await renewServer(db, lapsed.id, 60), false, 'an expired lease was renewed');
  const hostRows = await listServersOfHost(db, 'h');
  assert.deepEqual(hostRows.map((s) => [s.id, s.live]).sort(), [[holder.id, 1], [lapsed.id, 0]].sort());
  assert.equal((await listLiveServers(db)).length, 26);
  await releaseExpiredServers(db);
  assert.equal((await listLiveServers(db)).length, 26);
  assert.deepEqual((await listServersOfHost(db, 'h')).map((s) => s.id), [holder.id]);
  await assertPlans(store, take());

  const run = await insertRun(db, {
    uuid: '00000000-0000-4000-8000-000000000001', user_id: user.id, workflow_id: null, state: 'RUNNING',
    request: '{}', run_dir: '/x', outputs: null, message: null, create_time: now, start_time: null, end_time: null, update_time: now,
  });
  await claimRun(db, holder.id, run.id);
  const done: RunState = 'COMPLETE';
  assert.equal(await markRunState(db, run.id, ['RUNNING'], done, now, {}, lapsed.id), false, 'a server without the lease recorded an outcome');
  assert.equal(await markRunState(db, run.id, ['RUNNING'], done, now, {}, holder.id), true);
});
