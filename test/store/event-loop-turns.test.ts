/**
 * A chain of awaited queries lets the event loop turn: a cancel marking 100,000 planned jobs in
 * chunks once held off every other request for 1.1 s, when SQLite ran on the event loop's own
 * thread. SQLite's statements now run on a thread of their own (store/sqlite-worker-dialect.ts),
 * PostgreSQL's are network I/O; these tests hold both to it, inside a transaction too.
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
  // Long enough for many turns however the store answers.
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
