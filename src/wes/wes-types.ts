/** The WES 1.1 response shapes this server produces (snake_case as in the spec). */
import type { RunState } from '../run-state.js';

export interface RunRequest {
  workflow_params: Record<string, unknown>;
  workflow_type: string;
  workflow_type_version: string;
  tags: Record<string, string>;
  workflow_engine_parameters?: Record<string, string>;
  workflow_engine?: string;
  workflow_engine_version?: string;
  workflow_url: string;
}

export interface Log {
  name?: string;
  cmd?: string[];
  start_time?: string;
  end_time?: string;
  stdout?: string;
  stderr?: string;
  exit_code?: number;
  system_logs?: string[];
}

export interface TaskLog extends Log {
  id: string;
  name: string;
  /** Extension: see to-wes.ts taskStateOf. */
  state: string;
  /** Extension: what the job used, the parts the executor measured (issue 10). */
  resources?: TaskResources;
}

export interface TaskResources {
  wall_seconds?: number;
  cpu_seconds?: number;
  max_rss_bytes?: number;
}

/** Counts by TaskLog.state word or by WES state. */
export type StateCounts = Record<string, number>;

/** Extension: a workflow step's part of GET /runs/{id}/task-summary. */
export interface StepSummary {
  step: string;
  total: number;
  states: StateCounts;
  wes_states: StateCounts;
  /** Jobs whose usage the executor measured; the sums below are over those. */
  jobs_measured: number;
  cpu_seconds: number;
  wall_seconds: number;
  max_rss_bytes?: number;
}

/** Extension: GET /runs/{id}/task-summary, from counters (never a count over tasks). */
export interface TaskSummary {
  run_id: string;
  total: number;
  states: StateCounts;
  wes_states: StateCounts;
  jobs_measured: number;
  cpu_seconds: number;
  max_rss_bytes?: number;
  steps: StepSummary[];
}

/** Extension: one group of GET /runs/{id}/task-failures. */
export interface FailureGroup {
  /** Opaque handle: `tasks?failure_group=<id>` lists the group's tasks. */
  id: string;
  step: string;
  exit_code: number | null;
  stderr_tail: string;
  count: number;
  first_task_ids: string[];
  tasks_url: string;
}

export interface FailureGroupsResponse {
  failure_groups: FailureGroup[];
  next_page_token: string;
}

/** Extension: GET /runs/{id}/task-counts, the run's tasks per TaskLog.state. */
export interface TaskCounts {
  total: number;
  states: Record<string, number>;
}

export interface RunLog {
  run_id: string;
  request: RunRequest;
  state: RunState;
  run_log: Log;
  task_logs_url: string;
  task_logs: null;
  outputs: Record<string, unknown>;
}

export interface RunSummary {
  run_id: string;
  state: RunState;
  start_time?: string;
  end_time?: string;
  tags: Record<string, string>;
}

export interface RunListResponse {
  runs: RunSummary[];
  next_page_token: string;
}

export interface TaskListResponse {
  task_logs: TaskLog[];
  next_page_token: string;
}
