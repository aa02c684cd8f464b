/**
 * Writing a run's shape: workflow steps, step instances, single jobs and collection jobs,
 * and job state changes. Used by the runner as a run progresses and by `wes seed`.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { isPostgres } from '../dialect.js';
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
 * collection_job_count in step, so the step stops being listed as a job-less task. 2 statements
 * however many jobs: the (job id, element) pairs are one JSON array parameter (jsonArrayRows).
 */
export async function insertCollectionJobs(
  trx: Transaction<Database>,
  step: CollectionStep,
  jobs: readonly { readonly orderIndex: number; readonly jobId: number }[],
  now: string,
): Promise<void> {
  const pairs = JSON.stringify(jobs.map((j) => [j.jobId, j.orderIndex]));
  // bigint and integer columns get their parameters cast: PostgreSQL takes an untyped one in a
  // select list as text.
  await sql`insert into implicit_collection_jobs_job_association
    (implicit_collection_jobs_id, job_id, order_index, workflow_invocation_id, workflow_invocation_step_id, step_sort_key)
    select cast(${step.collectionId} as bigint), cast(e.value ->> 0 as bigint), cast(e.value ->> 1 as integer),
      cast(${step.invocationId} as bigint), cast(${step.stepId} as bigint), ${step.sortKey}
    from ${jsonArrayRows(trx, pairs)}`.execute(trx);
  await trx
    .updateTable('workflow_invocation_step')
    .set((eb) => ({ collection_job_count: eb('collection_job_count', '+', jobs.length), update_time: now }))
    .where('id', '=', step.stepId)
    .execute();
}

/**
 * What one flush knows of a job: every field is optional and only the given ones change
 * (`null` is never written through a change; a re-run's reset is markJobRerun).
 */
export interface JobChange {
  readonly jobId: number;
  readonly state?: JobState;
  readonly argv?: string;
  readonly workDir?: string;
  readonly stdoutPath?: string;
  readonly stderrPath?: string;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly exitCode?: number;
  readonly outputs?: string;
  readonly message?: string;
  readonly executorJobId?: string;
  /** What the job used, when the executor measured it. */
  readonly cpuSeconds?: number;
  readonly maxRssBytes?: number;
  /** The last line of a failed job's stderr (its failure group). */
  readonly stderrTail?: string;
}

/** 15 parameters a row; both databases take this many rows in one statement. */
const CHANGE_BATCH = 1024;

/**
 * A batch's row count rounded up to a power of two, so that the statement's text is one of 11
 * and stays prepared (store/statement-cache.ts); the padding rows have no id and match no job.
 */
const NO_CHANGE = sql`(${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null}, ${null})`;

function paddedSize(rows: number): number {
  return Math.min(CHANGE_BATCH, 2 ** Math.ceil(Math.log2(Math.max(rows, 1))));
}

/**
 * Applies many jobs' changes with one UPDATE … FROM (VALUES …) per 1,024 jobs: one statement to
 * prepare and run instead of one per job and field, which is what a big scatter's thousands of
 * starts and ends a second cost before. Primary-key probe per row. At most one change per job.
 */
export async function applyJobChanges(db: Db, changes: readonly JobChange[]): Promise<void> {
  for (let i = 0; i < changes.length; i += CHANGE_BATCH) {
    const batch = changes.slice(i, i + CHANGE_BATCH);
    const rows = batch.map(
      (c) =>
        sql`(${c.jobId}, ${c.state ?? null}, ${c.argv ?? null}, ${c.workDir ?? null}, ${c.stdoutPath ?? null}, ${c.stderrPath ?? null}, ${c.startTime ?? null}, ${c.endTime ?? null}, ${c.exitCode ?? null}, ${c.outputs ?? null}, ${c.message ?? null}, ${c.executorJobId ?? null}, ${c.cpuSeconds ?? null}, ${c.maxRssBytes ?? null}, ${c.stderrTail ?? null})`,
    );
    for (let pad = batch.length; pad < paddedSize(batch.length); pad++) rows.push(NO_CHANGE);
    // VALUES parameters are untyped text to PostgreSQL, hence the casts; SQLite ignores them. The
    // triggers of migration 0006 keep task rows, counters and failure groups in step.
    await sql`with v(id, state, argv, work_dir, stdout_path, stderr_path, start_time, end_time, exit_code, outputs, message, executor_job_id, cpu_seconds, max_rss_bytes, stderr_tail) as (values ${sql.join(rows)})
      update job set
        state = coalesce(v.state, job.state),
        argv = coalesce(v.argv, job.argv),
        work_dir = coalesce(v.work_dir, job.work_dir),
        stdout_path = coalesce(v.stdout_path, job.stdout_path),
        stderr_path = coalesce(v.stderr_path, job.stderr_path),
        start_time = coalesce(v.start_time, job.start_time),
        end_time = coalesce(v.end_time, job.end_time),
        exit_code = coalesce(cast(v.exit_code as integer), job.exit_code),
        outputs = coalesce(v.outputs, job.outputs),
        message = coalesce(v.message, job.message),
        executor_job_id = coalesce(v.executor_job_id, job.executor_job_id),
        cpu_seconds = coalesce(cast(v.cpu_seconds as double precision), job.cpu_seconds),
        max_rss_bytes = coalesce(cast(v.max_rss_bytes as bigint), job.max_rss_bytes),
        stderr_tail = coalesce(v.stderr_tail, job.stderr_tail)
      from v where job.id = cast(v.id as bigint)`.execute(db);
  }
}

/** A job about to run again (a resumed run): queued, with nothing of its earlier attempt. */
export async function markJobRerun(db: Db, jobId: number): Promise<void> {
  await db
    .updateTable('job')
    .set({
      state: 'queued',
      exit_code: null,
      outputs: null,
      message: null,
      start_time: null,
      end_time: null,
      executor_job_id: null,
      cpu_seconds: null,
      max_rss_bytes: null,
      stderr_tail: null,
    })
    .where('id', '=', jobId)
    .execute();
}

/**
 * Inserts the jobs of a step's collection at the given elements (ascending), QUEUED, so the task
 * list shows a scatter's every planned job before it runs. Returns their ids in element order.
 * 3 statements of constant text however many elements: each passes its rows as one JSON array
 * (jsonArrayRows), not as a bound value per column and row, each an object Kysely builds (and, on
 * PostgreSQL, keeps alive across the round trip) for a 1,000-row VALUES statement.
 */
export async function planCollectionJobs(
  trx: Transaction<Database>,
  step: CollectionStep,
  elements: readonly number[],
  now: string,
): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`insert into job (state, argv, create_time)
    select 'queued', '[]', ${now} from ${jsonArrayRows(trx, JSON.stringify(elements))} order by e.key
    returning id`.execute(trx);
  const ids = ascendingIds(rows);
  await insertCollectionJobs(trx, step, ids.map((jobId, i) => ({ orderIndex: elements[i], jobId })), now);
  return ids;
}

/**
 * The items of a JSON array bound as one parameter, as rows `e` with `value` (JSON) and `key`
 * (the position, for order): json_each on SQLite, jsonb_array_elements on PostgreSQL.
 */
function jsonArrayRows(db: Kysely<Database>, json: string): RawBuilder<unknown> {
  return isPostgres(db) ? sql`jsonb_array_elements(${json}::jsonb) with ordinality as e(value, key)` : sql`json_each(${json}) as e`;
}

/**
 * The jobs of a collection's elements in [from, to), in element order, with what a resume
 * needs of them. icjja_collection_order_uq range + primary-key probes; 1 query.
 */
export async function listCollectionJobs(
  db: Db,
  collectionId: number,
  from: number,
  to: number,
): Promise<{ order_index: number; job_id: number; state: JobState; outputs: string | null; executor_job_id: string | null }[]> {
  return db
    .selectFrom('implicit_collection_jobs_job_association as a')
    .innerJoin('job as j', 'j.id', 'a.job_id')
    .select(['a.order_index', 'a.job_id', 'j.state', 'j.outputs', 'j.executor_job_id'])
    .where('a.implicit_collection_jobs_id', '=', collectionId)
    .where('a.order_index', '>=', from)
    .where('a.order_index', '<', to)
    .orderBy('a.order_index')
    .execute();
}

/**
 * Planned jobs of elements in [from, to) that never started (the run stopped before them):
 * CANCELED. icjja_collection_order_uq range; 1 statement. Callers go in chunks of 1,000 so no
 * statement holds the database long.
 */
export async function cancelPlannedJobs(db: Db, collectionId: number, from: number, to: number, now: string): Promise<void> {
  await db
    .updateTable('job')
    .set({ state: 'canceled', end_time: now })
    .where('state', '=', 'queued')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('implicit_collection_jobs_job_association as a')
        .select('a.job_id')
        .where('a.implicit_collection_jobs_id', '=', collectionId)
        .where('a.order_index', '>=', from)
        .where('a.order_index', '<', to),
    )
    .execute();
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
