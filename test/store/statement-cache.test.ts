/**
 * Prepared statements kept by SQL text (SQLite), and the job writer's statement taking one of a
 * few texts whatever the batch size, so that it stays prepared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { withStatementCache } from '../../src/store/statement-cache.js';
import { applyJobChanges } from '../../src/store/queries/jobs.js';
import { storeWithLastQuery } from '../helpers/explain.js';

function database(t: { after: (fn: () => void) => void }): Database.Database {
  const db = new Database(':memory:');
  t.after(() => db.close());
  db.exec('create table t (x integer)');
  db.exec('insert into t values (1), (2), (3)');
  return db;
}

test('the same SQL text is prepared once', (t) => {
  const db = database(t);
  let prepared = 0;
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    prepared++;
    return prepare(sql);
  }) as typeof db.prepare;
  const cache = withStatementCache(db);
  const first = cache.prepare('select x from t order by x');
  const again = cache.prepare('select x from t order by x');
  assert.equal(again, first);
  assert.equal(prepared, 1);
  assert.deepEqual(again.all([]), [{ x: 1 }, { x: 2 }, { x: 3 }]);
});

test('a statement still iterating is not handed out again', (t) => {
  const cache = withStatementCache(database(t));
  const sql = 'select x from t order by x';
  const outer = cache.prepare(sql);
  const seen: unknown[] = [];
  for (const row of outer.iterate([])) {
    const inner = cache.prepare(sql);
    assert.notEqual(inner, outer);
    seen.push(row, inner.all([]).length);
  }
  assert.deepEqual(seen, [{ x: 1 }, 3, { x: 2 }, 3, { x: 3 }, 3]);
});

test('beyond its capacity the least recently used statement goes', (t) => {
  const cache = withStatementCache(database(t), 2);
  const a = cache.prepare('select 1');
  const b = cache.prepare('select 2');
  assert.equal(cache.prepare('select 1'), a);
  cache.prepare('select 3');
  assert.equal(cache.prepare('select 1'), a, 'used last, kept');
  assert.notEqual(cache.prepare('select 2'), b, 'least recently used, dropped');
});

test('the job writer issues one of a few statement texts for any batch size', async (t) => {
  const { store, lastQuery } = await storeWithLastQuery(t);
  const texts = new Set<string>();
  for (let size = 1; size <= 40; size++) {
    // Job ids that do not exist: the statement runs and changes nothing.
    await applyJobChanges(store.db, Array.from({ length: size }, (_, i) => ({ jobId: 1_000_000 + i, state: 'running' as const })));
    texts.add(lastQuery().sql);
  }
  assert.ok(texts.size <= 7, `${texts.size} texts for 40 batch sizes`);
});
