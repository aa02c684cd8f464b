/**
 * `job.executor_job_id`: the id an executor whose jobs outlive the server gave the job (a
 * Slurm job id), so that a restarted server attaches to the job instead of submitting it
 * again, and cancels it when its run was canceled meanwhile. Null for local jobs. Frozen.
 */
import type { Kysely, Migration } from 'kysely';

export function executorJobIdMigration(): Migration {
  return { up };
}

async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('job').addColumn('executor_job_id', 'text').execute();
}
