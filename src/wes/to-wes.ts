/** Store rows → WES response objects. The only place that knows both shapes. */
import type { TaskRow } from '../store/queries/tasks.js';
import type { JobState } from '../store/tables/job.table.js';
import type { RunSummaryRow } from '../store/queries/runs.js';
import type { WorkflowInvocationRow } from '../store/tables/invocation.table.js';
import { STEP_LEVEL_JOB_INDEX } from '../store/queries/tasks.js';
import { formatTaskId } from '../store/task-path.js';
import type { RunLog, RunRequest, RunSummary, TaskLog, TaskResources } from './wes-types.js';
import { parseJson, stringifyJson } from '../exact-json.js';
import type { LinkedOutputs } from './linked-outputs.js';
import { ENGINE_NAME } from './run-request.js';

/** ISO 8601 UTC to the second, as the spec's "%Y-%m-%dT%H:%M:%SZ". */
export function wesTime(stored: string | null): string | undefined {
  if (stored === null) return undefined;
  return new Date(stored).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function runUrl(baseUrl: string, runId: string): string {
  return `${baseUrl}/ga4gh/wes/v1/runs/${encodeURIComponent(runId)}`;
}

export function taskIdOf(row: Pick<TaskRow, 'task_path' | 'job_index'>): string {
  return formatTaskId(row.task_path, row.job_index === STEP_LEVEL_JOB_INDEX ? undefined : row.job_index);
}

/**
 * A task's state, an extension field of TaskLog (the spec has none) that the CLI's
 * `--state` and the dashboard filter on: the job's state in plain words, `none` for a task
 * without a job (a workflow input, a step whose jobs are not created yet).
 */
export type TaskState = 'none' | 'queued' | 'running' | 'complete' | 'failed' | 'skipped' | 'canceled';

export function taskStateOf(jobState: JobState | null): TaskState {
  switch (jobState) {
    case null:
      return 'none';
    case 'new':
    case 'queued':
      return 'queued';
    case 'ok':
      return 'complete';
    case 'error':
      return 'failed';
    default:
      return jobState;
  }
}

export function toTaskLog(row: TaskRow, baseUrl: string, runId: string): TaskLog {
  const id = taskIdOf(row);
  const log: TaskLog = { id, name: row.label ?? row.tool_id ?? `step_${row.order_index}`, state: taskStateOf(row.job_state) };
  if (row.job_id === null) return log;
  const argv: unknown = row.argv === null ? [] : JSON.parse(row.argv);
  if (Array.isArray(argv) && argv.length > 0) log.cmd = argv.map(String);
  const start = wesTime(row.start_time);
  if (start !== undefined) log.start_time = start;
  const end = wesTime(row.end_time);
  if (end !== undefined) log.end_time = end;
  if (row.exit_code !== null) log.exit_code = row.exit_code;
  const taskUrl = `${runUrl(baseUrl, runId)}/tasks/${encodeURIComponent(id)}`;
  if (row.stdout_path !== null) log.stdout = `${taskUrl}/stdout`;
  if (row.stderr_path !== null) log.stderr = `${taskUrl}/stderr`;
  const systemLogs = jobSystemLogs(row);
  if (systemLogs.length > 0) log.system_logs = systemLogs;
  const resources = resourcesOf(row);
  if (resources !== undefined) log.resources = resources;
  return log;
}

/** Wall time once the job ended; CPU and peak memory when its executor measured them. */
function resourcesOf(row: TaskRow): TaskResources | undefined {
  const resources: TaskResources = {};
  if (row.start_time !== null && row.end_time !== null) {
    resources.wall_seconds = Math.max(0, Date.parse(row.end_time) - Date.parse(row.start_time)) / 1000;
  }
  if (row.cpu_seconds !== null) resources.cpu_seconds = row.cpu_seconds;
  if (row.max_rss_bytes !== null) resources.max_rss_bytes = row.max_rss_bytes;
  return Object.keys(resources).length === 0 ? undefined : resources;
}

/** What a client cannot read from the other fields: why a job did not run or failed. */
function jobSystemLogs(row: TaskRow): string[] {
  if (row.job_state === 'skipped') return ['skipped: the step\'s `when` condition was false'];
  if (row.job_state === 'canceled') return ['canceled'];
  if (row.job_state === 'error' && row.job_message !== null) return [row.job_message];
  return [];
}

export function parseStoredRequest(json: string): RunRequest {
  return parseJson(json) as RunRequest;
}

export function toRunSummary(row: RunSummaryRow): RunSummary {
  const summary: RunSummary = { run_id: row.uuid, state: row.state, tags: parseStoredRequest(row.request).tags };
  const start = wesTime(row.start_time);
  if (start !== undefined) summary.start_time = start;
  const end = wesTime(row.end_time);
  if (end !== undefined) summary.end_time = end;
  return summary;
}

/**
 * The run's Log. Its `cmd` is the engine invocation the run amounts to; `stdout` and `stderr`
 * both lead to the engine's log (progress and failures alike: the engine writes one log), which
 * clients such as wes-client print with `--log`; each job's own streams are in its TaskLog.
 */
/** A RunLog without its outputs, which come as text (runLogJson). */
export function toRunLog(row: WorkflowInvocationRow, baseUrl: string): Omit<RunLog, 'outputs'> {
  const url = runUrl(baseUrl, row.uuid);
  const request = parseStoredRequest(row.request);
  const runLog: RunLog['run_log'] = {
    name: request.workflow_url,
    cmd: [
      ENGINE_NAME,
      ...Object.entries(request.workflow_engine_parameters ?? {}).map(([name, value]) => `--${name}=${value}`),
      request.workflow_url,
    ],
    stdout: `${url}/log`,
    stderr: `${url}/log`,
  };
  // Runs finished before exit codes were recorded (migration 0004) completed with 0 all the same.
  const exitCode = row.exit_code ?? (row.state === 'COMPLETE' ? 0 : null);
  if (exitCode !== null) runLog.exit_code = exitCode;
  const start = wesTime(row.start_time);
  if (start !== undefined) runLog.start_time = start;
  const end = wesTime(row.end_time);
  if (end !== undefined) runLog.end_time = end;
  if (row.message !== null) runLog.system_logs = [row.message];
  return {
    run_id: row.uuid,
    request,
    state: row.state,
    run_log: runLog,
    task_logs_url: `${url}/tasks`,
    task_logs: null,
  };
}

/** The RunLog's JSON, the linked outputs spliced in, as pieces; ending it early closes the outputs file. */
export function runLogJson(runLog: Omit<RunLog, 'outputs'>, outputs: LinkedOutputs): AsyncIterable<Buffer> {
  const text = stringifyJson(runLog);
  const head = Buffer.concat([Buffer.from(`${text.slice(0, -1)},"outputs":`), outputs.first]);
  const rest = outputs.rest;
  // Not an async generator: returning one that has not started runs none of its body, so a
  // response torn down before its first read would leave the outputs file open.
  let stage: 'head' | 'rest' | 'tail' | 'done' = 'head';
  const pieces: AsyncIterator<Buffer, undefined> = {
    async next() {
      if (stage === 'head') {
        stage = rest === undefined ? 'tail' : 'rest';
        return { done: false, value: head };
      }
      if (stage === 'rest' && rest !== undefined) {
        const piece = await rest.next();
        if (piece.done !== true) return piece;
        stage = 'tail';
      }
      if (stage === 'tail') {
        stage = 'done';
        return { done: false, value: Buffer.from('}') };
      }
      return { done: true, value: undefined };
    },
    async return() {
      stage = 'done';
      await rest?.return(undefined);
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => pieces };
}
