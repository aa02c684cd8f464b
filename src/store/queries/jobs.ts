/**
 * Writing a run's shape: workflow steps, step instances, single jobs and collection jobs,
 * and job state changes. Used by the runner as a run progresses and by `wes seed`.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../database.js';
import type { NewWorkflowStep } from '../tables/workflow.table.js';
import type { JobRow, JobState, NewJob } from '../tables/job.table.js';
import type { WorkflowInvocationStepRow } from '../tables/invocation.table.js';

type Db = Kysely<Database> | Transaction<Database>;

/** SQLite binds at most 32766 parameters per statement; rows here have ≤ 12 columns. */
const INSERT_BATCH = 1000;

export async function insertWorkflow(
  db: Db,
  name: string,
  steps: readonly Omit<NewWorkflowStep, 'workflow_id'>[],
  now: string,
): Promise<{ workflowId: number; stepIds: number[] }> {
  const workflow = await db.insertInto('workflow').values({ name, create_time: now }).returning('id').executeTakeFirstOrThrow();
  const stepIds: number[] = [];
  for (let i = 0; i < steps.length; i += INSERT_BATCH) {
    const rows = await db
      .insertInto('workflow_step')
      .values(steps.slice(i, i + INSERT_BATCH).map((s) => ({ ...s, workflow_id: workflow.id })))
      .returning('id')
      .execute();
    stepIds.push(...ascendingIds(rows));
  }
  return { workflowId: workflow.id, stepIds };
}

export interface NewStepInstance {
  readonly workflowInvocationId: number;
  readonly workflowStepId: number;
  readonly orderIndex: number;
  readonly taskPath: string;
  readonly sortKey: string;
}

/** Inserts step instances (in order); returns their ids in the same order. */
export async function insertStepInstances(db: Db, steps: readonly NewStepInstance[], now: string): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < steps.length; i += INSERT_BATCH) {
    const rows = await db
      .insertInto('workflow_invocation_step')
      .values(
        steps.slice(i, i + INSERT_BATCH).map((s) => ({
          workflow_invocation_id: s.workflowInvocationId,
          workflow_step_id: s.workflowStepId,
          order_index: s.orderIndex,
          task_path: s.taskPath,
          sort_key: s.sortKey,
          job_id: null,
          implicit_collection_jobs_id: null,
          create_time: now,
          update_time: now,
        })),
      )
      .returning('id')
      .execute();
    ids.push(...ascendingIds(rows));
  }
  return ids;
}

// wis_task_path_uq; 1 query.
export async function findStepInstance(
  db: Db,
  invocationId: number,
  taskPath: string,
): Promise<WorkflowInvocationStepRow | undefined> {
  return db
    .selectFrom('workflow_invocation_step')
    .selectAll()
    .where('workflow_invocation_id', '=', invocationId)
    .where('task_path', '=', taskPath)
    .executeTakeFirst();
}

/** Inserts jobs in order and returns their ids in the same order. */
export async function insertJobs(db: Db, jobs: readonly NewJob[]): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < jobs.length; i += INSERT_BATCH) {
    const rows = await db.insertInto('job').values(jobs.slice(i, i + INSERT_BATCH)).returning('id').execute();
    ids.push(...ascendingIds(rows));
  }
  return ids;
}

/** Makes `jobId` the single job of a step instance. */
export async function attachSingleJob(trx: Transaction<Database>, stepId: number, jobId: number, now: string): Promise<void> {
  await trx.updateTable('workflow_invocation_step').set({ job_id: jobId, update_time: now }).where('id', '=', stepId).execute();
}

/** Gives a step instance an (empty) implicit collection; returns the collection id. */
export async function insertCollection(trx: Transaction<Database>, stepId: number, now: string): Promise<number> {
  const collection = await trx
    .insertInto('implicit_collection_jobs')
    .values({ populated_state: 'new' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .updateTable('workflow_invocation_step')
    .set({ implicit_collection_jobs_id: collection.id, update_time: now })
    .where('id', '=', stepId)
    .execute();
  return collection.id;
}

export interface CollectionStep {
  readonly stepId: number;
  readonly collectionId: number;
  readonly invocationId: number;
  readonly sortKey: string;
}

/**
 * Associates jobs with a step's collection at the given element indexes and keeps the step's
 * collection_job_count in step, so the step stops being listed as a job-less task.
 */
export async function insertCollectionJobs(
  trx: Transaction<Database>,
  step: CollectionStep,
  jobs: readonly { readonly orderIndex: number; readonly jobId: number }[],
  now: string,
): Promise<void> {
  for (let i = 0; i < jobs.length; i += INSERT_BATCH) {
    await trx
      .insertInto('implicit_collection_jobs_job_association')
      .values(
        jobs.slice(i, i + INSERT_BATCH).map((j) => ({
          implicit_collection_jobs_id: step.collectionId,
          job_id: j.jobId,
          order_index: j.orderIndex,
          workflow_invocation_id: step.invocationId,
          workflow_invocation_step_id: step.stepId,
          step_sort_key: step.sortKey,
        })),
      )
      .execute();
  }
  await trx
    .updateTable('workflow_invocation_step')
    .set((eb) => ({ collection_job_count: eb('collection_job_count', '+', jobs.length), update_time: now }))
    .where('id', '=', step.stepId)
    .execute();
}

export async function markCollectionPopulated(trx: Db, collectionId: number, state: 'ok' | 'failed'): Promise<void> {
  await trx.updateTable('implicit_collection_jobs').set({ populated_state: state }).where('id', '=', collectionId).execute();
}

export async function markJobStarted(db: Db, jobId: number, startTime: string): Promise<void> {
  await db.updateTable('job').set({ state: 'running', start_time: startTime }).where('id', '=', jobId).execute();
}

/**
 * The job's end, with what it used and the last line of its stderr when known. Triggers
 * (migration 0006) update its task row's copies, the state counters, its failure group and
 * its step's usage in the same statement.
 */
export async function markJobEnded(
  db: Db,
  jobId: number,
  end: {
    state: JobState;
    exitCode?: number;
    outputs?: string;
    message?: string;
    usage?: { cpuSeconds: number; maxRssBytes: number };
    stderrTail?: string;
  },
  endTime: string,
): Promise<void> {
  await db
    .updateTable('job')
    .set({
      state: end.state,
      exit_code: end.exitCode ?? null,
      outputs: end.outputs ?? null,
      message: end.message ?? null,
      end_time: endTime,
      cpu_seconds: end.usage?.cpuSeconds ?? null,
      max_rss_bytes: end.usage?.maxRssBytes ?? null,
      stderr_tail: end.stderrTail ?? null,
    })
    .where('id', '=', jobId)
    .execute();
}

/** The executor's own id of the job (a Slurm job id), for reattaching after a restart. */
export async function setJobExecutorId(db: Db, jobId: number, executorJobId: string): Promise<void> {
  await db.updateTable('job').set({ executor_job_id: executorJobId }).where('id', '=', jobId).execute();
}

/**
 * Executor ids of a run's jobs not known to have ended (queued, running, or canceled by a
 * server shutdown that left them to the cluster): what to cancel when the run was canceled
 * while no server ran. wis_task_path_uq and icjja_task_order_idx ranges on the run; 1 query.
 */
export async function listUnfinishedExecutorJobIds(db: Db, invocationId: number): Promise<string[]> {
  const unfinished: JobState[] = ['queued', 'running', 'canceled'];
  const rows = await db
    .selectFrom('workflow_invocation_step as s')
    .innerJoin('job as j', 'j.id', 's.job_id')
    .select('j.executor_job_id')
    .where('s.workflow_invocation_id', '=', invocationId)
    .where('j.executor_job_id', 'is not', null)
    .where('j.state', 'in', unfinished)
    .unionAll(
      db
        .selectFrom('implicit_collection_jobs_job_association as a')
        .innerJoin('job as j', 'j.id', 'a.job_id')
        .select('j.executor_job_id')
        .where('a.workflow_invocation_id', '=', invocationId)
        .where('j.executor_job_id', 'is not', null)
        .where('j.state', 'in', unfinished),
    )
    .execute();
  return rows.flatMap((row) => (row.executor_job_id === null ? [] : [row.executor_job_id]));
}

export async function findJob(db: Db, jobId: number): Promise<JobRow | undefined> {
  return db.selectFrom('job').selectAll().where('id', '=', jobId).executeTakeFirst();
}

/** Ids come back from a multi-row INSERT … RETURNING in row order on both databases; sorting makes that explicit. */
function ascendingIds(rows: readonly { id: number }[]): number[] {
  return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
}

// workflow_step_order_uq range (workflow_id = ?); 1 query.
export async function listWorkflowSteps(db: Db, workflowId: number): Promise<{ id: number; order_index: number }[]> {
  return db.selectFrom('workflow_step').select(['id', 'order_index']).where('workflow_id', '=', workflowId).orderBy('order_index').execute();
}

/** The job at one element of a collection; icjja_collection_order_uq; 1 query. */
export async function findCollectionJobId(db: Db, collectionId: number, orderIndex: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('implicit_collection_jobs_job_association')
    .select('job_id')
    .where('implicit_collection_jobs_id', '=', collectionId)
    .where('order_index', '=', orderIndex)
    .executeTakeFirst();
  return row?.job_id;
}

/** Points an existing element of a collection at a new job (a retried element after a restart). */
export async function replaceCollectionJob(trx: Db, collectionId: number, orderIndex: number, jobId: number): Promise<void> {
  await trx
    .updateTable('implicit_collection_jobs_job_association')
    .set({ job_id: jobId })
    .where('implicit_collection_jobs_id', '=', collectionId)
    .where('order_index', '=', orderIndex)
    .execute();
}

export async function insertWorkflowStep(db: Db, step: NewWorkflowStep): Promise<number> {
  const row = await db.insertInto('workflow_step').values(step).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

// job_state_idx (migration 0004): index-only count of the jobs not yet finished; 1 query.
export async function countUnfinishedJobs(db: Kysely<Database>): Promise<Map<JobState, number>> {
  const rows = await db
    .selectFrom('job')
    .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
    .where('state', 'in', ['new', 'queued', 'running'])
    .groupBy('state')
    .execute();
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}
