/**
 * Run filters and the run's exit code (issue 9): ListRuns filtered by state and by tags stays
 * a keyset range scan, and run_log.exit_code is kept with the run. Frozen once released.
 *
 * - workflow_invocation.exit_code: 0 on COMPLETE, the failing job's code on EXECUTOR_ERROR.
 * - workflow_invocation_user_state_time_idx: `?state=` walks (user, state) newest first.
 * - workflow_invocation_tag: one row per (run, tag name), with the run's owner and keyset
 *   columns copied so `?tags=name:value` walks (user, name, value) newest first without a
 *   join to find the order. Filled from the stored requests of existing runs.
 * - job_state_idx: /metrics counts the jobs queued and running without reading the job table.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.js';

export function runFiltersMigration(dialect: Dialect): Migration {
  return { up: (db) => up(db, dialect) };
}

interface ExistingRun {
  id: number;
  user_id: number;
  request: string;
  create_time: string;
  uuid: string;
}

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('workflow_invocation').addColumn('exit_code', 'integer').execute();
  await db.schema
    .createIndex('workflow_invocation_user_state_time_idx')
    .on('workflow_invocation')
    .columns(['user_id', 'state', 'create_time', 'uuid'])
    .execute();
  await db.schema
    .createTable('workflow_invocation_tag')
    .addColumn('workflow_invocation_id', 'bigint', (c) => c.notNull().references('workflow_invocation.id').onDelete('cascade'))
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('create_time', 'text', (c) => c.notNull())
    .addColumn('uuid', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('workflow_invocation_tag_pk', ['workflow_invocation_id', 'name'])
    .execute();
  await db.schema
    .createIndex('workflow_invocation_tag_filter_idx')
    .on('workflow_invocation_tag')
    .columns(['user_id', 'name', 'value', 'create_time', 'uuid'])
    .execute();

  await db.schema.createIndex('job_state_idx').on('job').column('state').execute();

  const existing = await sql<ExistingRun>`select id, user_id, request, create_time, uuid from workflow_invocation`.execute(db);
  for (const run of existing.rows) {
    const tags = (JSON.parse(run.request) as { tags?: Record<string, unknown> }).tags ?? {};
    for (const [name, value] of Object.entries(tags)) {
      if (typeof value !== 'string') continue;
      await sql`insert into workflow_invocation_tag (workflow_invocation_id, user_id, name, value, create_time, uuid)
                values (${run.id}, ${run.user_id}, ${name}, ${value}, ${run.create_time}, ${run.uuid})`.execute(db);
    }
  }
  if (dialect === 'postgres') await sql`analyze workflow_invocation_tag`.execute(db);
}
