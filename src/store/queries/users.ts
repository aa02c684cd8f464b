/** Users and their API keys. Keys are looked up by their sha256 (api_key.key_hash unique index). */
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { UserRow } from '../tables/user.table.js';

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

export async function insertApiKey(db: Kysely<Database>, userId: number, keyHash: string, now: string): Promise<void> {
  await db.insertInto('api_key').values({ user_id: userId, key_hash: keyHash, create_time: now }).execute();
}

// api_key.key_hash unique index + app_user primary key; 1 query.
export async function findUserByKeyHash(db: Kysely<Database>, keyHash: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('api_key as k')
    .innerJoin('app_user as u', 'u.id', 'k.user_id')
    .selectAll('u')
    .where('k.key_hash', '=', keyHash)
    .executeTakeFirst();
}
