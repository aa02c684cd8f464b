/**
 * Several servers on one database (issue 8 §3): each server process has a row in `wes_server`
 * whose `expires_at` it pushes forward (its heartbeat), and a run names the server that drives
 * it in `workflow_invocation.server_id`. A server found expired or gone is deleted and its
 * active runs' `server_id` cleared in one transaction; a run with none may be claimed by any
 * server. Frozen once released.
 *
 * - wes_server: `process_key` (host/boot/pid/start, executors/local/process-identity.ts) lets a
 *   server of the same host tell at once that another one is gone; `expires_at` is database
 *   time, so clocks of different hosts never decide.
 * - wes_server_host_idx: a server's own host's servers; wes_server_expires_idx: expired rows.
 * - workflow_invocation_state_server_idx: the runs to claim (active states, no server), a
 *   released server's runs, and a server's runs in one state (the heartbeat's cancel check).
 */
import type { ColumnDefinitionBuilder, Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.js';

export function runLeasesMigration(dialect: Dialect): Migration {
  return { up: (db) => up(db, dialect) };
}

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const isPostgres = dialect === 'postgres';
  const primaryKey = (c: ColumnDefinitionBuilder) => (isPostgres ? c.primaryKey() : c.primaryKey().autoIncrement());
  await db.schema
    .createTable('wes_server')
    .addColumn('id', isPostgres ? 'bigserial' : 'integer', primaryKey)
    .addColumn('process_key', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('start_time', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('wes_server_host_idx').on('wes_server').column('host').execute();
  await db.schema.createIndex('wes_server_expires_idx').on('wes_server').column('expires_at').execute();
  await db.schema.alterTable('workflow_invocation').addColumn('server_id', 'bigint').execute();
  await db.schema
    .createIndex('workflow_invocation_state_server_idx')
    .on('workflow_invocation')
    .columns(['state', 'server_id', 'id'])
    .execute();
}
