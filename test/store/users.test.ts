/** Key and user queries of the operator commands: index plans, and what revoking and disabling change. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledQuery } from 'kysely';
import { openStore } from '../../src/store/connect.js';
import {
  findApiKeysByIdOrPrefix,
  findUserByKeyHash,
  insertApiKey,
  insertUser,
  listApiKeys,
  markApiKeyRevoked,
  markUserDisabled,
} from '../../src/store/queries/users.js';
import type { UserRow } from '../../src/store/tables/user.table.js';
import { createTestDatabase } from '../helpers/dialects.js';
import { assertIndexOnlyPlan } from '../helpers/explain.js';

test('key lookups, listings and state changes are index plans; revoked keys and disabled users find nothing', async (t) => {
  const database = await createTestDatabase();
  let last = { sql: '', parameters: [] as readonly unknown[] };
  const store = await openStore({ databaseUrl: database.databaseUrl, sqlitePath: database.sqlitePath, onQuery: (sql, parameters) => (last = { sql, parameters }) });
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  const now = new Date().toISOString();
  const users: UserRow[] = [];
  for (let u = 0; u < 20; u++) users.push(await insertUser(store.db, `user${u}`, false, now));
  const keyIds: number[] = [];
  for (const user of users) for (let k = 0; k < 3; k++) keyIds.push(await insertApiKey(store.db, user.id, `hash-${user.id}-${k}`, `wes_${user.id}x${k}`, now));
  if (store.dialect === 'postgres') await store.db.executeQuery(CompiledQuery.raw('analyze'));
  const plan = () => assertIndexOnlyPlan(store, last.sql, last.parameters);

  assert.equal((await findUserByKeyHash(store.db, `hash-${users[3].id}-1`))?.id, users[3].id);
  await plan();
  assert.deepEqual((await listApiKeys(store.db, users[3].id)).map((k) => k.key_prefix), [0, 1, 2].map((k) => `wes_${users[3].id}x${k}`));
  await plan();
  assert.deepEqual((await findApiKeysByIdOrPrefix(store.db, `wes_${users[3].id}x1`)).map((k) => k.id), [keyIds[10]]);
  await plan();
  assert.deepEqual((await findApiKeysByIdOrPrefix(store.db, String(keyIds[10]))).map((k) => k.key_hash), [`hash-${users[3].id}-1`]);
  await plan();

  assert.equal(await markApiKeyRevoked(store.db, keyIds[10], now), true);
  await plan();
  assert.equal(await markApiKeyRevoked(store.db, keyIds[10], now), false);
  assert.equal(await findUserByKeyHash(store.db, `hash-${users[3].id}-1`), undefined);
  assert.equal((await findUserByKeyHash(store.db, `hash-${users[3].id}-2`))?.id, users[3].id);

  assert.equal(await markUserDisabled(store.db, users[3].id, now), true);
  await plan();
  assert.equal(await markUserDisabled(store.db, users[3].id, now), false);
  assert.equal(await findUserByKeyHash(store.db, `hash-${users[3].id}-2`), undefined);
  assert.equal((await findUserByKeyHash(store.db, `hash-${users[4].id}-0`))?.id, users[4].id);
});
