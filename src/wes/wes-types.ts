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
