/** Server-wide settings that must survive restarts and be shared by replicas (e.g. the token secret). */
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';

/** The stored value of `name`, inserting `candidate` first if there is none; the first writer wins. */
export async function getOrInsertSetting(db: Kysely<Database>, name: string, candidate: string): Promise<string> {
  await db
    .insertInto('server_setting')
    .values({ name, value: candidate })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('server_setting').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}
