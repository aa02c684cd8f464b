/**
 * The SQLite store runs its statements on a thread of its own (store/sqlite-worker-dialect.ts):
 * the event loop keeps turning while a statement runs, a read outside a transaction neither
 * queues for the writer nor sees what it has not committed, SQLite's errors arrive with their codes,
 * a file that is not a database is refused by name, and the thread keeps a process alive only
 * while a statement is in flight. SQLite only: PostgreSQL's statements are network I/O already.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/connect.js';
import { createTestDatabase } from '../helpers/dialects.js';
import { SqliteError } from '../../src/store/sqlite-thread.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function sqliteStore(t: { after: (fn: () => Promise<void>) => void }): Promise<Store> {
  const database = await createTestDatabase('sqlite');
  const store = await openStore({ sqlitePath: database.sqlitePath });
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  return store;
}

test('timers keep firing while a long statement runs', async (t) => {
  const store = await sqliteStore(t);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  t.after(() => clearInterval(timer));
  const start = performance.now();
  // A few hundred milliseconds of SQLite CPU in one statement: on the calling thread no timer could fire until it ends.
  const { rows } = await sql<{ n: number }>`with recursive c(i) as (select 1 union all select i + 1 from c where i < 3000000) select count(*) as n from c`.execute(store.db);
  const elapsed = performance.now() - start;
  clearInterval(timer);
  assert.equal(Number(rows[0].n), 3_000_000);
  assert.ok(elapsed > 50, `the statement took only ${elapsed.toFixed(0)} ms, too short to tell`);
  assert.ok(ticks >= Math.floor(elapsed / 5 / 4), `${ticks} ticks of a 5 ms timer during ${elapsed.toFixed(0)} ms`);
});

test("a failed statement rejects with SQLite's code and message, and a failed transaction leaves nothing", async (t) => {
  const store = await sqliteStore(t);
  await sql`create table pair (k integer primary key, v text not null)`.execute(store.db);
  await sql`insert into pair values (1, 'one')`.execute(store.db);
  await assert.rejects(sql`insert into pair values (1, 'again')`.execute(store.db), (error: unknown) => {
    assert.ok(error instanceof SqliteError, String(error));
    assert.equal(error.code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.match(error.message, /UNIQUE constraint failed: pair\.k/);
    return true;
  });
  await assert.rejects(
    store.db.transaction().execute(async (trx) => {
      await sql`insert into pair values (2, 'two')`.execute(trx);
      await sql`insert into pair values (3, null)`.execute(trx);
    }),
    /NOT NULL constraint failed: pair\.v/,
  );
  const { rows } = await sql<{ k: number; v: string }>`select k, v from pair order by k`.execute(store.db);
  assert.deepEqual(rows, [{ k: 1, v: 'one' }]);
});

// The timeouts: were a read to wait for the transaction that waits for it, it would wait forever.
test('a read outside a transaction does not wait for it and sees only what was committed', { timeout: 10_000 }, async (t) => {
  const store = await sqliteStore(t);
  await sql`create table pair (k integer primary key, v text not null)`.execute(store.db);
  await sql`insert into pair values (1, 'one')`.execute(store.db);
  const count = async (): Promise<number> =>
    Number((await sql<{ n: number }>`select count(*) as n from pair`.execute(store.db)).rows[0].n);
  const seenInside = await store.db.transaction().execute(async (trx) => {
    await sql`insert into pair values (2, 'two')`.execute(trx);
    return count();
  });
  assert.equal(seenInside, 1);
  assert.equal(await count(), 2);
});

test('a read does not queue behind writes waiting for the writer', { timeout: 10_000 }, async (t) => {
  const store = await sqliteStore(t);
  await sql`create table pair (k integer primary key, v text not null)`.execute(store.db);
  const order: string[] = [];
  let inside!: () => void;
  const entered = new Promise<void>((resolve) => (inside = resolve));
  let finish!: () => void;
  const held = new Promise<void>((resolve) => (finish = resolve));
  const transaction = store.db.transaction().execute(async (trx) => {
    await sql`insert into pair values (1, 'one')`.execute(trx);
    inside();
    await held;
  });
  await entered;
  const write = sql`insert into pair values (2, 'two')`.execute(store.db).then(() => order.push('write'));
  const read = sql<{ n: number }>`select count(*) as n from pair`.execute(store.db).then(({ rows }) => {
    order.push('read');
    return Number(rows[0].n);
  });
  assert.equal(await read, 0);
  finish();
  await Promise.all([transaction, write]);
  assert.deepEqual(order, ['read', 'write']);
});

test('a statement that reads like a query but writes runs on the writer', async (t) => {
  const store = await sqliteStore(t);
  await sql`create table pair (k integer primary key, v text not null)`.execute(store.db);
  const result = await sql`with v(k, x) as (values (5, 'five')) insert into pair select k, x from v`.execute(store.db);
  assert.equal(result.numAffectedRows, 1n);
  const { rows } = await sql<{ k: number; v: string }>`select k, v from pair`.execute(store.db);
  assert.deepEqual(rows, [{ k: 5, v: 'five' }]);
});

test('a file that is not a SQLite database is refused, naming it', async (t) => {
  const database = await createTestDatabase('sqlite');
  t.after(() => database.drop());
  fs.writeFileSync(database.sqlitePath, 'not a database, but long enough to have a header of sorts: '.repeat(20));
  await assert.rejects(openStore({ sqlitePath: database.sqlitePath }), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, /file is not a database/);
    assert.ok(error.message.includes(database.sqlitePath), error.message);
    return true;
  });
});

test('after close, a statement fails saying the store is closed', async (t) => {
  const database = await createTestDatabase('sqlite');
  t.after(() => database.drop());
  const store = await openStore({ sqlitePath: database.sqlitePath });
  await store.close();
  await assert.rejects(sql`select 1`.execute(store.db), /SQLite store is closed|destroyed/);
  await assert.rejects(sql`create table after_close (k integer)`.execute(store.db), /SQLite store is closed|destroyed/);
});

test('an open store does not keep a process alive, and a statement in flight does', async (t) => {
  const database = await createTestDatabase('sqlite');
  t.after(() => database.drop());
  // Nothing else keeps this script's event loop alive: the store must keep it up until the
  // statement's answer arrives, and then let it end although the store is never closed.
  const script = path.join(database.dataDir, 'open-and-leave.mts');
  fs.writeFileSync(
    script,
    `import { sql } from ${JSON.stringify(path.join(ROOT, 'node_modules/kysely/dist/esm/index.js'))};
import { openStore } from ${JSON.stringify(path.join(ROOT, 'src/store/connect.ts'))};
const store = await openStore({ sqlitePath: ${JSON.stringify(database.sqlitePath)} });
setTimeout(async () => {
  const { rows } = await sql\`with recursive c(i) as (select 1 union all select i + 1 from c where i < 300000) select count(*) as n from c\`.execute(store.db);
  console.log(JSON.stringify(rows));
}, 10);
`,
  );
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.signal, null, `the process was still alive after 30 s: ${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), '[{"n":300000}]');
});
