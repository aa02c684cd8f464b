/** Users and their API keys. Keys are looked up by their sha256 (api_key.key_hash unique index). */
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { ApiKeyRow, UserRow } from '../tables/user.table.js';

export async function countUsers(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('app_user').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function findUserByName(db: Kysely<Database>, name: string): Promise<UserRow | undefined> {
  return db.selectFrom('app_user').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function insertUser(db: Kysely<Database>, name: string, isAdmin: boolean, now: string): Promise<UserRow> {
  return db
    .insertInto('app_user')
    .values({ name, is_admin: isAdmin ? 1 : 0, create_time: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function insertApiKey(
  db: Kysely<Database>,
  userId: number,
  keyHash: string,
  keyPrefix: string,
  now: string,
): Promise<number> {
  const row = await db
    .insertInto('api_key')
    .values({ user_id: userId, key_hash: keyHash, key_prefix: keyPrefix, create_time: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

// api_key.key_hash unique index + app_user primary key; 1 query. A revoked key or a disabled
// user finds nothing, so the very next request after `wes key revoke` is refused.
export async function findUserByKeyHash(db: Kysely<Database>, keyHash: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('api_key as k')
    .innerJoin('app_user as u', 'u.id', 'k.user_id')
    .selectAll('u')
    .where('k.key_hash', '=', keyHash)
    .where('k.revoked_at', 'is', null)
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
}

// api_key_user_idx (user_id, id): range scan of one user's keys in id order; 1 query.
export async function listApiKeys(db: Kysely<Database>, userId: number): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_key').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

// api_key primary key (all digits) or api_key_prefix_idx (key_prefix, id), LIMIT 2; 1 query.
export async function findApiKeysByIdOrPrefix(db: Kysely<Database>, idOrPrefix: string): Promise<ApiKeyRow[]> {
  const query = db.selectFrom('api_key').selectAll();
  return /^\d{1,15}$/.test(idOrPrefix)
    ? query.where('id', '=', Number(idOrPrefix)).execute()
    : query.where('key_prefix', '=', idOrPrefix).orderBy('id').limit(2).execute();
}

/** Revokes a key unless it already is; returns whether it changed. api_key primary key. */
export async function markApiKeyRevoked(db: Kysely<Database>, keyId: number, now: string): Promise<boolean> {
  const result = await db
    .updateTable('api_key')
    .set({ revoked_at: now })
    .where('id', '=', keyId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Disables a user unless it already is; returns whether it changed. app_user primary key. */
export async function markUserDisabled(db: Kysely<Database>, userId: number, now: string): Promise<boolean> {
  const result = await db
    .updateTable('app_user')
    .set({ disabled_at: now })
    .where('id', '=', userId)
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function findUserById(db: Kysely<Database>, id: number): Promise<UserRow | undefined> {
  return db.selectFrom('app_user').selectAll().where('id', '=', id).executeTakeFirst();
}
