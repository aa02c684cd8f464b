/**
 * Initial schema: users and API keys, workflows and their steps, runs (invocations), step
 * instances, jobs and implicit collection jobs, as in the task-pagination plan. Frozen: later
 * changes go in new migrations. Times are ISO 8601 UTC text in both databases so they sort
 * and compare the same way everywhere.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.js';

export function initialMigration(dialect: Dialect): Migration {
  return { up: (db) => up(db, dialect) };
}

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const isPostgres = dialect === 'postgres';
  // PostgreSQL compares text by the database's collation, which may ignore characters or
  // case; sort keys must compare byte-wise as they do in SQLite.
  const sortKeyType = isPostgres ? sql`text collate "C"` : sql`text`;
  const idType = isPostgres ? 'bigserial' : 'integer';
  const primaryKey = (c: ColumnDefinitionBuilder) => (isPostgres ? c.primaryKey() : c.primaryKey().autoIncrement());

  await db.schema
    .createTable('app_user')
    .addColumn('id', idType, primaryKey)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('create_time', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('api_key')
    .addColumn('id', idType, primaryKey)
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('app_user.id').onDelete('cascade'))
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('create_time', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('server_setting')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('workflow')
    .addColumn('id', idType, primaryKey)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('create_time', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('workflow_step')
    .addColumn('id', idType, primaryKey)
    .addColumn('workflow_id', 'bigint', (c) => c.notNull().references('workflow.id').onDelete('cascade'))
    .addColumn('order_index', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('label', 'text')
    .addColumn('tool_id', 'text')
    .addUniqueConstraint('workflow_step_order_uq', ['workflow_id', 'order_index'])
    .execute();

  await db.schema
    .createTable('workflow_invocation')
    .addColumn('id', idType, primaryKey)
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('app_user.id'))
    .addColumn('workflow_id', 'bigint', (c) => c.references('workflow.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('request', 'text', (c) => c.notNull())
    .addColumn('run_dir', 'text', (c) => c.notNull())
    .addColumn('outputs', 'text')
    .addColumn('message', 'text')
    .addColumn('create_time', 'text', (c) => c.notNull())
    .addColumn('start_time', 'text')
    .addColumn('end_time', 'text')
    .addColumn('update_time', 'text', (c) => c.notNull())
    .execute();
  // ListRuns: the caller's runs newest first, keyset on (create_time, uuid).
  await db.schema
    .createIndex('workflow_invocation_user_time_idx')
    .on('workflow_invocation')
    .columns(['user_id', 'create_time', 'uuid'])
    .execute();
  // service-info state counts and resuming active runs on start.
  await db.schema.createIndex('workflow_invocation_state_idx').on('workflow_invocation').column('state').execute();

  await db.schema
    .createTable('job')
    .addColumn('id', idType, primaryKey)
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('argv', 'text', (c) => c.notNull())
    .addColumn('exit_code', 'integer')
    .addColumn('work_dir', 'text')
    .addColumn('stdout_path', 'text')
    .addColumn('stderr_path', 'text')
    .addColumn('outputs', 'text')
    .addColumn('message', 'text')
    .addColumn('create_time', 'text', (c) => c.notNull())
    .addColumn('start_time', 'text')
    .addColumn('end_time', 'text')
    .execute();

  await db.schema
    .createTable('implicit_collection_jobs')
    .addColumn('id', idType, primaryKey)
    .addColumn('populated_state', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('workflow_invocation_step')
    .addColumn('id', idType, primaryKey)
    .addColumn('workflow_invocation_id', 'bigint', (c) => c.notNull().references('workflow_invocation.id').onDelete('cascade'))
    .addColumn('workflow_step_id', 'bigint', (c) => c.notNull().references('workflow_step.id'))
    .addColumn('order_index', 'integer', (c) => c.notNull())
    .addColumn('task_path', 'text', (c) => c.notNull())
    .addColumn('sort_key', sortKeyType, (c) => c.notNull())
    .addColumn('job_id', 'bigint', (c) => c.references('job.id'))
    .addColumn('implicit_collection_jobs_id', 'bigint', (c) => c.references('implicit_collection_jobs.id'))
    .addColumn('collection_job_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('create_time', 'text', (c) => c.notNull())
    .addColumn('update_time', 'text', (c) => c.notNull())
    .execute();
  // GetTask: direct lookup of a step instance by its task path.
  await db.schema
    .createIndex('wis_task_path_uq')
    .on('workflow_invocation_step')
    .columns(['workflow_invocation_id', 'task_path'])
    .unique()
    .execute();
  // ListTasks, step-level branch: steps listed as one task, in order, from a key on.
  await db.schema
    .createIndex('wis_step_task_order_idx')
    .on('workflow_invocation_step')
    .columns(['workflow_invocation_id', 'collection_job_count', 'sort_key'])
    .execute();
  await db.schema
    .createIndex('wis_sort_key_uq')
    .on('workflow_invocation_step')
    .columns(['workflow_invocation_id', 'sort_key'])
    .unique()
    .execute();

  await db.schema
    .createTable('implicit_collection_jobs_job_association')
    .addColumn('id', idType, primaryKey)
    .addColumn('implicit_collection_jobs_id', 'bigint', (c) =>
      c.notNull().references('implicit_collection_jobs.id').onDelete('cascade'),
    )
    .addColumn('job_id', 'bigint', (c) => c.notNull().references('job.id'))
    .addColumn('order_index', 'integer', (c) => c.notNull())
    .addColumn('workflow_invocation_id', 'bigint', (c) => c.notNull())
    .addColumn('workflow_invocation_step_id', 'bigint', (c) => c.notNull())
    .addColumn('step_sort_key', sortKeyType, (c) => c.notNull())
    .addUniqueConstraint('icjja_collection_order_uq', ['implicit_collection_jobs_id', 'order_index'])
    .execute();
  // ListTasks, collection branch: a run's collection jobs in (step, element) order.
  await db.schema
    .createIndex('icjja_task_order_idx')
    .on('implicit_collection_jobs_job_association')
    .columns(['workflow_invocation_id', 'step_sort_key', 'order_index'])
    .execute();
}
