/**
 * Use cases over a run's task counters (issue 10): the task summary (counts per state for the
 * run and each workflow step, resource use) and the failure groups. Both read counter rows
 * kept by the store's triggers, never the tasks themselves, so they cost the same at any run
 * size: the run, then 2–3 queries over rows per workflow step or per group.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import {
  listFailureGroupsPage,
  listFirstTasksOfGroups,
  listStepStateCounts,
  listStepUsage,
  listWorkflowStepNames,
  type WorkflowStepName,
} from '../store/queries/task-summary.js';
import { formatTaskId } from '../store/task-path.js';
import { STEP_LEVEL_JOB_INDEX } from '../store/queries/tasks.js';
import { BadRequestError } from '../errors.js';
import { encodeFailureGroup } from './failure-group-handle.js';
import type { PageTokenCodec } from './page-token.js';
import { presentToken, type PageRequest } from './paging.js';
import { getOwnedRun, type Caller } from './run-service.js';
import { runUrl } from './to-wes.js';
import { taskWordOf, wesStateOf } from './task-states.js';
import type { FailureGroupsResponse, StateCounts, StepSummary, TaskSummary } from './wes-types.js';

/** Tasks listed with each failure group. */
const FIRST_TASKS = 3;
const DEFAULT_GROUP_PAGE = 20;
const MAX_GROUP_PAGE = 100;

export class TaskSummaryService {
  readonly #db: Kysely<Database>;
  readonly #tokens: PageTokenCodec;

  constructor(options: { db: Kysely<Database>; tokens: PageTokenCodec }) {
    this.#db = options.db;
    this.#tokens = options.tokens;
  }

  /** 4 queries: the run, its state counters, its usage counters, the names of its workflow steps. */
  async summarize(caller: Caller, runId: string): Promise<TaskSummary> {
    const run = await getOwnedRun(this.#db, caller, runId);
    const counts = await listStepStateCounts(this.#db, run.id);
    const usage = new Map((await listStepUsage(this.#db, run.id)).map((u) => [u.workflow_step_id, u]));
    const stepIds = [...new Set([...counts.map((c) => c.workflow_step_id), ...usage.keys()])].sort((a, b) => a - b);
    const names = new Map((await listWorkflowStepNames(this.#db, stepIds)).map((s) => [s.id, s]));
    const total = emptyCounts();
    const steps = new Map<number, StepSummary>();
    for (const stepId of stepIds) {
      const step: StepSummary = { step: stepNameOf(names.get(stepId), stepId), ...emptyCounts(), jobs_measured: 0, cpu_seconds: 0, wall_seconds: 0 };
      const used = usage.get(stepId);
      if (used !== undefined) {
        step.jobs_measured = used.jobs;
        step.cpu_seconds = used.cpu_seconds;
        step.wall_seconds = used.wall_ms / 1000;
        if (used.max_rss_bytes !== null) step.max_rss_bytes = used.max_rss_bytes;
      }
      steps.set(stepId, step);
    }
    for (const { workflow_step_id, task_state, n } of counts) {
      for (const target of [total, steps.get(workflow_step_id) as StepSummary]) {
        target.total += n;
        bump(target.states, taskWordOf(task_state), n);
        bump(target.wes_states, wesStateOf(task_state), n);
      }
    }
    const measured = [...usage.values()];
    const peaks = measured.flatMap((u) => (u.max_rss_bytes === null ? [] : [u.max_rss_bytes]));
    const summary: TaskSummary = {
      run_id: run.uuid,
      ...total,
      jobs_measured: measured.reduce((n, u) => n + u.jobs, 0),
      cpu_seconds: measured.reduce((n, u) => n + u.cpu_seconds, 0),
      steps: [...steps.values()],
    };
    if (peaks.length > 0) summary.max_rss_bytes = Math.max(...peaks);
    return summary;
  }

  /**
   * 3 queries: the run, a page of its failure groups (in the order they first appeared), and
   * the first tasks of each. `page_token` is the last group of the previous page, sealed.
   */
  async listFailures(caller: Caller, runId: string, page: PageRequest, baseUrl: string): Promise<FailureGroupsResponse> {
    const pageSize = page.pageSize ?? DEFAULT_GROUP_PAGE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_GROUP_PAGE) {
      throw new BadRequestError(`page_size must be an integer from 1 to ${MAX_GROUP_PAGE}, got ${pageSize}`);
    }
    const run = await getOwnedRun(this.#db, caller, runId);
    const scope = `task-failures:${run.uuid}`;
    const token = presentToken(page.pageToken);
    const afterId = token === undefined ? 0 : decodeGroupCursor(this.#tokens.decode(token, scope));
    const rows = await listFailureGroupsPage(this.#db, run.id, afterId, pageSize + 1);
    const groups = rows.slice(0, pageSize);
    const firstTasks = await listFirstTasksOfGroups(this.#db, run.id, groups.map((g) => g.id), FIRST_TASKS);
    const tasksUrl = `${runUrl(baseUrl, run.uuid)}/tasks`;
    return {
      failure_groups: groups.map((group) => {
        const handle = encodeFailureGroup(this.#tokens, run.uuid, group.id);
        const first = firstTasks
          .filter((t) => t.failure_group_id === group.id)
          .sort((a, b) => (a.sort_key < b.sort_key ? -1 : a.sort_key > b.sort_key ? 1 : a.job_index - b.job_index))
          .slice(0, FIRST_TASKS)
          .map((t) => formatTaskId(t.task_path, t.job_index === STEP_LEVEL_JOB_INDEX ? undefined : t.job_index));
        return {
          id: handle,
          step: stepNameOf(group, group.workflow_step_id),
          exit_code: group.exit_code < 0 ? null : group.exit_code,
          stderr_tail: group.stderr_tail,
          count: group.n,
          first_task_ids: first,
          tasks_url: `${tasksUrl}?failure_group=${encodeURIComponent(handle)}`,
        };
      }),
      next_page_token: rows.length > pageSize ? this.#tokens.encode(scope, [groups[groups.length - 1].id]) : '',
    };
  }
}

function emptyCounts(): { total: number; states: StateCounts; wes_states: StateCounts } {
  return { total: 0, states: {}, wes_states: {} };
}

function bump(counts: StateCounts, key: string, n: number): void {
  counts[key] = (counts[key] ?? 0) + n;
}

function stepNameOf(step: Pick<WorkflowStepName, 'label' | 'tool_id' | 'order_index'> | undefined, id: number): string {
  if (step === undefined) return `step ${id}`;
  return step.label ?? step.tool_id ?? `step_${step.order_index}`;
}

function decodeGroupCursor(key: readonly unknown[]): number {
  const [id] = key;
  if (key.length !== 1 || typeof id !== 'number' || !Number.isSafeInteger(id)) throw new BadRequestError('page_token is malformed');
  return id;
}
