/**
 * A chain of awaited queries lets the event loop turn: on SQLite every query runs synchronously,
 * so without the store's EventLoopTurns plugin a loop of them would hold off every other request
 * until it ends (a cancel of a 100,000-job run stalled the server 1.1 s that way).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { storeWithLastQuery } from '../helpers/explain.js';

test('a long chain of awaited queries gives the event loop turns', async (t) => {
  const { store } = await storeWithLastQuery(t);
  let turns = 0;
  let counting = true;
  const count = (): void => {
    turns++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const start = performance.now();
  let queries = 0;
  // Long enough for several of the plugin's 20 ms slices.
  while (performance.now() - start < 200) {
    await sql`select 1 as one`.execute(store.db);
    queries++;
  }
  const turnsDuringLoop = turns;
  counting = false;
  assert.ok(queries > 10, `${queries} queries ran`);
  assert.ok(turnsDuringLoop >= 3, `the event loop turned ${turnsDuringLoop} times during 200 ms of queries`);
});

test('queries inside a transaction still give the event loop turns, and the transaction stays whole', async (t) => {
  const { store } = await storeWithLastQuery(t);
  await sql`create table counter (n integer not null)`.execute(store.db);
  await sql`insert into counter (n) values (0)`.execute(store.db);
  let turns = 0;
  const timer = setInterval(() => turns++, 1);
  t.after(() => clearInterval(timer));
  const start = performance.now();
  let increments = 0;
  await store.db.transaction().execute(async (trx) => {
    while (performance.now() - start < 200) {
      await sql`update counter set n = n + 1`.execute(trx);
      increments++;
    }
  });
  clearInterval(timer);
  assert.ok(turns >= 3, `timers ran ${turns} times during a 200 ms transaction`);
  const { rows } = await sql<{ n: number }>`select n from counter`.execute(store.db);
  assert.equal(Number(rows[0].n), increments);
});
