/**
 * Operator controls (issue 6): a key can be revoked and a user disabled without deleting
 * anything (runs keep their owner), and keys get a short public prefix so that an operator can
 * name one in `wes key revoke` and recognise it in `wes key list`. Keys created before this
 * migration have no prefix; they are named by id. Frozen like 0001.
 */
import type { Kysely, Migration } from 'kysely';

export function operatorMigration(): Migration {
  return { up };
}

async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds a single column.
  await db.schema.alterTable('api_key').addColumn('revoked_at', 'text').execute();
  await db.schema.alterTable('api_key').addColumn('key_prefix', 'text').execute();
  await db.schema.alterTable('app_user').addColumn('disabled_at', 'text').execute();
  // `wes key list <user>`: a user's keys in id order without reading the whole table.
  await db.schema.createIndex('api_key_user_idx').on('api_key').columns(['user_id', 'id']).execute();
  // `wes key revoke <prefix>`.
  await db.schema.createIndex('api_key_prefix_idx').on('api_key').columns(['key_prefix', 'id']).execute();
}
