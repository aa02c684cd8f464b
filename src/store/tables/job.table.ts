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
}
export type NewCollectionJobAssociation = Insertable<ImplicitCollectionJobsJobAssociationTable>;
