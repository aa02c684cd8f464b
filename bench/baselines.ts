/**
 * Benchmark baselines for the task page, written after the pagination plan
 * (../shared/reference/wes-task-logs-pagination-plan.txt) in its own terms: steps ordered by
 * the step's order_index (top-level runs only), single-job and job-less steps at job_index 0,
 * collection jobs at their association order_index. They use none of our denormalized
 * columns (sort_key, step_sort_key, the association's workflow_invocation_id,
 * collection_job_count). Not product code.
 *
 *  - planOffsetPage:   the plan's UNION ALL, ORDER BY step_order, job_index LIMIT/OFFSET, then
 *                      batch loading of steps (+ workflow_step) and jobs: 3 queries.
 *  - plainKeysetPage:  the same UNION ALL with WHERE (step_order, job_index) > (?, ?) instead of
 *                      OFFSET, as one would ship a keyset over it: 3 queries.
 *  - loadEverythingPage: what the plan replaces: all steps, all their jobs, the full task list
 *                      built in memory, then sliced.
 *
 * Every implementation returns BenchTask rows carrying the task id (task_path, plus
 * ".{job_index}" for a collection job) and its job id, so pages can be compared.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../src/store/database.js';
import { STEP_LEVEL_JOB_INDEX, type TaskRow } from '../src/store/queries/tasks.js';
import { formatTaskId } from '../src/store/task-path.js';

export interface BenchTask {
  readonly id: string;
  readonly jobId: number | null;
  readonly name: string;
  readonly state: string | null;
  readonly exitCode: number | null;
  readonly startTime: string | null;
  readonly endTime: string | null;
  readonly stdout: string | null;
  readonly stderr: string | null;
}

/** Called at each point where a query result or a built structure is live (memory probe). */
export type Probe = () => void;

/** The plan's position of a task: (step order_index, job_index), single/job-less at 0. */
export interface PlanPosition {
  readonly stepOrder: number;
  readonly jobIndex: number;
}

type TaskType = 'single' | 'collection' | 'no_job';

interface PlanTaskRow {
  step_id: number;
  step_order: number;
  task_type: TaskType;
  job_id: number | null;
  job_index: number;
}

interface StepRow {
  id: number;
  order_index: number;
  task_path: string;
  job_id: number | null;
  implicit_collection_jobs_id: number | null;
  create_time: string;
  update_time: string;
  label: string | null;
  tool_id: string | null;
}

interface JobRowLite {
  id: number;
  state: string;
  argv: string;
  exit_code: number | null;
  start_time: string | null;
  end_time: string | null;
  stdout_path: string | null;
  stderr_path: string | null;
}

interface CollectionJobRow extends JobRowLite {
  implicit_collection_jobs_id: number;
  job_index: number;
}

/** Our listTasksPage rows as bench tasks. */
export function fromTaskRows(rows: readonly TaskRow[]): BenchTask[] {
  return rows.map((r) => ({
    id: formatTaskId(r.task_path, r.job_index === STEP_LEVEL_JOB_INDEX ? undefined : r.job_index),
    jobId: r.job_id === null ? null : Number(r.job_id),
    name: r.label ?? r.tool_id ?? `step_${r.order_index}`,
    state: r.job_state,
    exitCode: r.exit_code,
    startTime: r.start_time,
    endTime: r.end_time,
    stdout: r.stdout_path,
    stderr: r.stderr_path,
  }));
}

/** The plan's UNION ALL of single-job steps, collection jobs and job-less steps. */
function planTaskRows(invocationId: number): RawBuilder<unknown> {
  return sql`
    select wis.id as step_id, wis.order_index as step_order, 'single' as task_type,
           wis.job_id as job_id, 0 as job_index
      from workflow_invocation_step wis
     where wis.workflow_invocation_id = ${invocationId} and wis.job_id is not null
    union all
    select wis.id as step_id, wis.order_index as step_order, 'collection' as task_type,
           icjja.job_id as job_id, icjja.order_index as job_index
      from workflow_invocation_step wis
      join implicit_collection_jobs icj on wis.implicit_collection_jobs_id = icj.id
      join implicit_collection_jobs_job_association icjja on icj.id = icjja.implicit_collection_jobs_id
     where wis.workflow_invocation_id = ${invocationId} and wis.implicit_collection_jobs_id is not null
    union all
    select wis.id as step_id, wis.order_index as step_order, 'no_job' as task_type,
           null as job_id, 0 as job_index
      from workflow_invocation_step wis
     where wis.workflow_invocation_id = ${invocationId}
       and wis.job_id is null and wis.implicit_collection_jobs_id is null`;
}

/** Plan, steps 2–3: rows page by LIMIT/OFFSET, then batch loading. 3 queries. */
export async function planOffsetPage(
  db: Kysely<Database>,
  invocationId: number,
  offset: number,
  limit: number,
  probe?: Probe,
): Promise<BenchTask[]> {
  const { rows } = await sql<PlanTaskRow>`
    select t.step_id, t.step_order, t.task_type, t.job_id, t.job_index
      from (${planTaskRows(invocationId)}) t
     order by t.step_order, t.job_index
     limit ${limit} offset ${offset}`.execute(db);
  probe?.();
  return batchLoad(db, rows, probe);
}

/** The same UNION ALL under a keyset WHERE (step_order, job_index) > (?, ?). 3 queries. */
export async function plainKeysetPage(
  db: Kysely<Database>,
  invocationId: number,
  after: PlanPosition | undefined,
  limit: number,
  probe?: Probe,
): Promise<BenchTask[]> {
  const where = after === undefined ? sql`` : sql`where (t.step_order, t.job_index) > (${after.stepOrder}, ${after.jobIndex})`;
  const { rows } = await sql<PlanTaskRow>`
    select t.step_id, t.step_order, t.task_type, t.job_id, t.job_index
      from (${planTaskRows(invocationId)}) t
     ${where}
     order by t.step_order, t.job_index
     limit ${limit}`.execute(db);
  probe?.();
  return batchLoad(db, rows, probe);
}

/** Plan's _load_task_objects + _task_row_to_task_log: steps (with workflow_step) and jobs by id IN. */
async function batchLoad(db: Kysely<Database>, rows: readonly PlanTaskRow[], probe?: Probe): Promise<BenchTask[]> {
  if (rows.length === 0) return [];
  const stepIds = [...new Set(rows.map((r) => Number(r.step_id)))];
  const jobIds = [...new Set(rows.filter((r) => r.job_id !== null).map((r) => Number(r.job_id)))];
  const steps = await selectSteps(db, sql`s.id in (${sql.join(stepIds)})`);
  probe?.();
  const jobs = jobIds.length === 0 ? [] : await selectJobs(db, jobIds);
  probe?.();
  const stepsById = new Map(steps.map((s) => [Number(s.id), s]));
  const jobsById = new Map(jobs.map((j) => [Number(j.id), j]));
  const tasks = rows.map((r) => {
    const step = stepsById.get(Number(r.step_id));
    if (step === undefined) throw new Error(`step ${r.step_id} not loaded`);
    const job = r.job_id === null ? undefined : jobsById.get(Number(r.job_id));
    return toTask(step, r.task_type === 'collection' ? Number(r.job_index) : undefined, job);
  });
  probe?.();
  return tasks;
}

/**
 * What the plan replaces (_build_task_logs): every step of the run, every job of those steps
 * (single, and through their collections), the whole task list built in memory and sorted,
 * then the page sliced out. Batched (3 queries), which is kinder than Galaxy's per-step loads.
 */
export async function loadEverythingPage(
  db: Kysely<Database>,
  invocationId: number,
  offset: number,
  limit: number,
  probe?: Probe,
): Promise<BenchTask[]> {
  const steps = await selectSteps(db, sql`s.workflow_invocation_id = ${invocationId}`);
  probe?.();
  const singleJobIds = steps.filter((s) => s.job_id !== null).map((s) => Number(s.job_id));
  const collectionIds = steps.filter((s) => s.implicit_collection_jobs_id !== null).map((s) => Number(s.implicit_collection_jobs_id));
  const singleJobs = singleJobIds.length === 0 ? [] : await selectJobs(db, singleJobIds);
  probe?.();
  const collectionJobs =
    collectionIds.length === 0
      ? []
      : (
          await sql<CollectionJobRow>`
            select a.implicit_collection_jobs_id, a.order_index as job_index,
                   j.id, j.state, j.argv, j.exit_code, j.start_time, j.end_time, j.stdout_path, j.stderr_path
              from implicit_collection_jobs_job_association a
              join job j on j.id = a.job_id
             where a.implicit_collection_jobs_id in (${sql.join(collectionIds)})`.execute(db)
        ).rows;
  probe?.();
  const singleById = new Map(singleJobs.map((j) => [Number(j.id), j]));
  const byCollection = new Map<number, CollectionJobRow[]>();
  for (const j of collectionJobs) {
    const key = Number(j.implicit_collection_jobs_id);
    let list = byCollection.get(key);
    if (list === undefined) byCollection.set(key, (list = []));
    list.push(j);
  }
  const ordered = [...steps].sort((a, b) => a.order_index - b.order_index);
  const all: BenchTask[] = [];
  for (const step of ordered) {
    if (step.implicit_collection_jobs_id !== null) {
      const jobs = (byCollection.get(Number(step.implicit_collection_jobs_id)) ?? []).sort((a, b) => a.job_index - b.job_index);
      for (const job of jobs) all.push(toTask(step, job.job_index, job));
    } else {
      all.push(toTask(step, undefined, step.job_id === null ? undefined : singleById.get(Number(step.job_id))));
    }
  }
  probe?.();
  return all.slice(offset, offset + limit);
}

async function selectSteps(db: Kysely<Database>, where: RawBuilder<unknown>): Promise<StepRow[]> {
  const { rows } = await sql<StepRow>`
    select s.id, s.order_index, s.task_path, s.job_id, s.implicit_collection_jobs_id,
           s.create_time, s.update_time, ws.label, ws.tool_id
      from workflow_invocation_step s
      join workflow_step ws on ws.id = s.workflow_step_id
     where ${where}`.execute(db);
  return rows;
}

async function selectJobs(db: Kysely<Database>, ids: readonly number[]): Promise<JobRowLite[]> {
  const { rows } = await sql<JobRowLite>`
    select j.id, j.state, j.argv, j.exit_code, j.start_time, j.end_time, j.stdout_path, j.stderr_path
      from job j
     where j.id in (${sql.join(ids)})`.execute(db);
  return rows;
}

function toTask(step: StepRow, jobIndex: number | undefined, job: JobRowLite | undefined): BenchTask {
  return {
    id: formatTaskId(step.task_path, jobIndex),
    jobId: job === undefined ? null : Number(job.id),
    name: step.label ?? step.tool_id ?? `step_${step.order_index}`,
    state: job?.state ?? null,
    exitCode: job?.exit_code ?? null,
    startTime: job === undefined ? step.create_time : job.start_time,
    endTime: job === undefined ? step.update_time : job.end_time,
    stdout: job?.stdout_path ?? null,
    stderr: job?.stderr_path ?? null,
  };
}

/** The plan's (step_order, job_index) of the task at 0-based position `index` (setup, not timed). */
export async function planPositionAt(db: Kysely<Database>, invocationId: number, index: number): Promise<PlanPosition> {
  const { rows } = await sql<{ step_order: number; job_index: number }>`
    select t.step_order, t.job_index from (${planTaskRows(invocationId)}) t
     order by t.step_order, t.job_index limit 1 offset ${index}`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error(`no task at position ${index}`);
  return { stepOrder: Number(row.step_order), jobIndex: Number(row.job_index) };
}
