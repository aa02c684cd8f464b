import type { Generated, Insertable, Selectable } from 'kysely';

export type JobState = 'new' | 'queued' | 'running' | 'ok' | 'error' | 'skipped' | 'canceled';

export interface JobTable {
  id: Generated<number>;
  state: JobState;
  /** The command line, JSON array of strings. */
  argv: string;
  exit_code: number | null;
  work_dir: string | null;
  stdout_path: string | null;
  stderr_path: string | null;
  /** The job's CWL outputs, JSON, once it finished ok: what a resumed run reuses. */
  outputs: string | null;
  message: string | null;
  create_time: string;
  start_time: string | null;
  end_time: string | null;
  /** The executor's id of the job when it outlives the server (a Slurm job id); see 0003. */
  executor_job_id: string | null;
  /** CPU time (user + system) and peak resident memory, when the executor measured them (0006). */
  cpu_seconds: Generated<number | null>;
  max_rss_bytes: Generated<number | null>;
  /** The last line of the job's stderr, read when it ended; groups failures (0006). */
  stderr_tail: Generated<string | null>;
}
export type JobRow = Selectable<JobTable>;
export type NewJob = Insertable<JobTable>;

export interface ImplicitCollectionJobsTable {
  id: Generated<number>;
  populated_state: 'new' | 'ok' | 'failed';
}

/**
 * A job of a mapped step, `order_index` = element index. The run id, step id and step sort key
 * are copied here so one index range scan lists a run's collection jobs in task order.
 */
export interface ImplicitCollectionJobsJobAssociationTable {
  id: Generated<number>;
  implicit_collection_jobs_id: number;
  job_id: number;
  order_index: number;
  workflow_invocation_id: number;
  workflow_invocation_step_id: number;
  step_sort_key: string;
  /** Copies of the job's state, failure group, wall time and peak memory, kept by triggers (0006). */
  task_state: Generated<TaskRowState>;
  failure_group_id: Generated<number | null>;
  wall_ms: Generated<number | null>;
  max_rss_bytes: Generated<number | null>;
}

/** A listed task's state: its job's, or 'none' for a task without a job. */
export type TaskRowState = JobState | 'none';

/** Per (run, workflow step, state, stripe): how many listed tasks are in that state (0006). */
export interface TaskStateCountTable {
  workflow_invocation_id: number;
  workflow_step_id: number;
  task_state: TaskRowState;
  stripe: number;
  n: number;
}

/** Failed tasks of a run that share step, exit code (-1: none) and last stderr line (0006). */
export interface TaskFailureGroupTable {
  id: Generated<number>;
  workflow_invocation_id: number;
  workflow_step_id: number;
  exit_code: number;
  stderr_tail: string;
}

export interface TaskFailureCountTable {
  failure_group_id: number;
  stripe: number;
  n: number;
}

/** Resource use of a workflow step's measured jobs in a run, summed per stripe (0006). */
export interface TaskStepUsageTable {
  workflow_invocation_id: number;
  workflow_step_id: number;
  stripe: number;
  jobs: number;
  cpu_seconds: number;
  wall_ms: number;
  max_rss_bytes: number | null;
}
export type NewCollectionJobAssociation = Insertable<ImplicitCollectionJobsJobAssociationTable>;
