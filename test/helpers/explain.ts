/**
 * Fails a test when a query the store really issued is not served by index range scans
 * (see plan-verdict.ts for what counts).
 */
import assert from 'node:assert/strict';
import { CompiledQuery } from 'kysely';
import type { TestContext } from 'node:test';
import { openStore, type Store } from '../../src/store/connect.js';
import { createTestDatabase, type TestDatabase } from './dialects.js';
import { explainQuery, type CapturedQuery } from './plan-verdict.js';

/** A store on a fresh database (dropped after the test) that remembers the last query it ran, for EXPLAIN. */
export async function storeWithLastQuery(t: TestContext): Promise<{ store: Store; database: TestDatabase; lastQuery(): CapturedQuery }> {
  const database = await createTestDatabase();
  let last: CapturedQuery = { sql: '', parameters: [] };
  const store = await openStore({
    databaseUrl: database.databaseUrl,
    sqlitePath: database.sqlitePath,
    onQuery: (sql, parameters) => (last = { sql, parameters }),
  });
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  return { store, database, lastQuery: () => last };
}

export async function assertIndexOnlyPlan(store: Store, sql: string, parameters: readonly unknown[]): Promise<void> {
  // PostgreSQL picks plans from statistics: a table of a few hundred rows is cheaper to read
  // whole than through an index. Turning sequential scans off shows the plan it builds from
  // indexes, the one it picks once tables are large; bench:tasks shows the plan at 1M tasks.
  const verdict = await store.db.transaction().execute(async (trx) => {
    if (store.dialect === 'postgres') await trx.executeQuery(CompiledQuery.raw('set local enable_seqscan = off'));
    // Likewise a bitmap scan (then a sort) of a dozen matching rows beats an ordered index walk only on tiny tables.
    if (store.dialect === 'postgres') await trx.executeQuery(CompiledQuery.raw('set local enable_bitmapscan = off'));
    return explainQuery(trx, store.dialect, { sql, parameters });
  });
  assert.ok(
    verdict.indexOnly,
    `not index-only: ${[...verdict.fullScans, ...verdict.unboundedSorts].join('; ')}\n${verdict.text}`,
  );
}
