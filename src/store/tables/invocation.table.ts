import type { Generated, Insertable, Selectable } from 'kysely';
import type { RunState } from '../../run-state.js';
import type { TaskRowState } from './job.table.js';

/** One WES run (Galaxy: a workflow invocation). `uuid` is the public run id. */
export interface WorkflowInvocationTable {
  id: Generated<number>;
  uuid: string;
  user_id: number;
  workflow_id: number | null;
  state: RunState;
  /** The RunRequest as received, JSON. */
  request: string;
  /** The run's directory under the data dir (attachments, job work dirs, logs). */
  run_dir: string;
  /** The CWL output object, JSON, once the run completed. */
  outputs: string | null;
  /** Why the run failed, for run_log.system_logs. */
  message: string | null;
  /** run_log.exit_code: 0 on COMPLETE, the failing job's code on EXECUTOR_ERROR (migration 0004). */
  exit_code: Generated<number | null>;
  create_time: string;
  start_time: string | null;
  end_time: string | null;
  update_time: string;
  /** The server (wes_server.id) that drives or last drove the run (migration 0005). */
  server_id: Generated<number | null>;
}
export type WorkflowInvocationRow = Selectable<WorkflowInvocationTable>;
export type NewWorkflowInvocation = Insertable<WorkflowInvocationTable>;

/** One tag of a run, with the run's owner and keyset columns for filtered listing (migration 0004). */
export interface WorkflowInvocationTagTable {
  workflow_invocation_id: number;
  user_id: number;
  name: string;
  value: string;
  create_time: string;
  uuid: string;
}

/**
 * One step instance of a run. `task_path` is the task id of the step ("3", "3/1", "3.2/1");
 * `sort_key` orders steps of the whole run, nested ones included (see store/task-key.ts).
 * `collection_job_count` > 0 means the step is listed as its collection's jobs; 0 means it is
 * listed as one task (its single job, or no job at all).
 */
export interface WorkflowInvocationStepTable {
  id: Generated<number>;
  workflow_invocation_id: number;
  workflow_step_id: number;
  order_index: number;
  task_path: string;
  sort_key: string;
  job_id: number | null;
  implicit_collection_jobs_id: number | null;
  collection_job_count: Generated<number>;
  create_time: string;
  update_time: string;
  /** Copies of the single job's state, failure group, wall time and peak memory, kept by triggers (0006). */
  task_state: Generated<TaskRowState>;
  failure_group_id: Generated<number | null>;
  wall_ms: Generated<number | null>;
  max_rss_bytes: Generated<number | null>;
}
export type WorkflowInvocationStepRow = Selectable<WorkflowInvocationStepTable>;
export type NewWorkflowInvocationStep = Insertable<WorkflowInvocationStepTable>;
