/**
 * Use cases on a run's tasks: a keyset page of the task list, one task by id, and the path
 * of a task's stdout/stderr. Each costs the run lookup plus one store query.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import {
  BEFORE_STEP,
  findTask,
  listTasksByUsagePage,
  listTasksPage,
  type TaskCursor,
  type TaskFilter,
  type TaskRow,
  type UsageColumn,
  type UsageCursor,
} from '../store/queries/tasks.js';
import { decodeFailureGroup } from './failure-group-handle.js';
import { parseStateFilter, taskWordOf } from './task-states.js';
import { listStepStateCounts } from '../store/queries/task-summary.js';
import { parseTaskId } from '../store/task-path.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { PageTokenCodec } from './page-token.js';
import { presentToken, resolvePageSize, splitLookAhead, type PageRequest } from './paging.js';
import { getOwnedRun, type Caller } from './run-service.js';
import { toTaskLog } from './to-wes.js';
import type { TaskCounts, TaskListResponse, TaskLog } from './wes-types.js';
import type { RunFile } from '../run-files.js';

export type LogStream = 'stdout' | 'stderr';

export class TaskService {
  readonly #db: Kysely<Database>;
  readonly #tokens: PageTokenCodec;

  constructor(options: { db: Kysely<Database>; tokens: PageTokenCodec }) {
    this.#db = options.db;
    this.#tokens = options.tokens;
  }

  /**
   * 2 queries: the run, then the page (with a look-ahead row to know whether more follow).
   * `filter` narrows the listing (states, a failure group) or orders it by resource use; page
   * tokens are bound to the run and to that choice, so a token used with another is a 400.
   */
  async listTasks(
    caller: Caller,
    runId: string,
    page: PageRequest,
    baseUrl: string,
    filter: TaskListFilter = {},
  ): Promise<TaskListResponse> {
    const pageSize = resolvePageSize(page.pageSize);
    const token = presentToken(page.pageToken);
    const run = await getOwnedRun(this.#db, caller, runId);
    const listing = this.#listing(run.uuid, filter);
    if (listing.kind === 'usage') {
      if (filter.from !== undefined && filter.from !== '') throw new BadRequestError('from cannot be combined with sort');
      const after = token === undefined ? undefined : decodeUsageCursor(this.#tokens.decode(token, listing.scope));
      const rows = await listTasksByUsagePage(this.#db, run.id, listing.column, after, pageSize + 1);
      const { items, continueAfter: last } = splitLookAhead(rows, pageSize);
      return {
        task_logs: items.map((row) => toTaskLog(row, baseUrl, run.uuid)),
        next_page_token: last === undefined ? '' : this.#tokens.encode(listing.scope, [last.sort_value, last.sort_key, last.job_index]),
      };
    }
    const after = token === undefined ? fromCursor(filter.from) : decodeTaskCursor(this.#tokens.decode(token, listing.scope));
    if (listing.filter !== undefined && 'states' in listing.filter && listing.filter.states.length === 0) {
      return { task_logs: [], next_page_token: '' };
    }
    const rows = await listTasksPage(this.#db, run.id, after, pageSize + 1, listing.filter);
    const { items, continueAfter: last } = splitLookAhead(rows, pageSize);
    return {
      task_logs: items.map((row) => toTaskLog(row, baseUrl, run.uuid)),
      next_page_token: last === undefined ? '' : this.#tokens.encode(listing.scope, [last.sort_key, last.job_index]),
    };
  }

  /** The listing a filter asks for, and the token scope that binds its pages to it. */
  #listing(runUuid: string, filter: TaskListFilter): Listing {
    const base = `tasks:${runUuid}`;
    const narrowed = [filter.states !== undefined, filter.failureGroup !== undefined, filter.sort !== undefined].filter(Boolean).length;
    if (narrowed > 1) throw new BadRequestError('state, failure_group and sort cannot be combined');
    if (filter.sort !== undefined) {
      const column = USAGE_SORTS[filter.sort];
      if (column === undefined) throw new BadRequestError(`sort must be one of ${Object.keys(USAGE_SORTS).join(', ')}, got "${filter.sort}"`);
      return { kind: 'usage', column, scope: `${base}?sort=${filter.sort}` };
    }
    if (filter.failureGroup !== undefined) {
      const failureGroupId = decodeFailureGroup(this.#tokens, runUuid, filter.failureGroup);
      return { kind: 'order', filter: { failureGroupId }, scope: `${base}?failure_group=${failureGroupId}` };
    }
    if (filter.states !== undefined) {
      const states = parseStateFilter(filter.states);
      return { kind: 'order', filter: { states }, scope: `${base}?state=${states.join(',')}` };
    }
    return { kind: 'order', filter: undefined, scope: base };
  }

  /** 2 queries: the run, then its state counters (rows per workflow step and state, never per task). */
  async countTasks(caller: Caller, runId: string): Promise<TaskCounts> {
    const run = await getOwnedRun(this.#db, caller, runId);
    const states: Record<string, number> = {};
    let total = 0;
    for (const { task_state, n } of await listStepStateCounts(this.#db, run.id)) {
      const state = taskWordOf(task_state);
      states[state] = (states[state] ?? 0) + n;
      total += n;
    }
    return { total, states };
  }

  /** 2 queries: the run, then the task through its id. */
  async getTask(caller: Caller, runId: string, taskId: string, baseUrl: string): Promise<TaskLog> {
    const { run, row } = await this.#find(caller, runId, taskId);
    return toTaskLog(row, baseUrl, run.uuid);
  }

  /**
   * The file holding a task's stdout or stderr, to be opened without following links (the
   * job may have replaced it); NotFoundError when the task has none (yet).
   */
  async getLogFile(caller: Caller, runId: string, taskId: string, stream: LogStream): Promise<RunFile> {
    const { run, row } = await this.#find(caller, runId, taskId);
    const logPath = stream === 'stdout' ? row.stdout_path : row.stderr_path;
    if (logPath === null) throw new NotFoundError(`task ${taskId} has no ${stream}`);
    return { path: logPath, runDir: run.run_dir, followLinks: false };
  }

  async #find(caller: Caller, runId: string, taskId: string) {
    const run = await getOwnedRun(this.#db, caller, runId);
    const parsed = parseTaskId(taskId);
    const row: TaskRow | undefined =
      parsed === undefined ? undefined : await findTask(this.#db, run.id, parsed.stepPath, parsed.jobIndex);
    if (row === undefined) throw new NotFoundError(`task ${taskId} not found in run ${runId}`);
    return { run, row };
  }
}

/** What `GET /runs/{id}/tasks` narrows or orders by, as the query gave it (parsed here). */
export interface TaskListFilter {
  /** WES states or TaskLog.state words; see task-states.ts. */
  readonly states?: readonly string[];
  /** A failure group's handle from `task-failures`. */
  readonly failureGroup?: string;
  /** `-duration` or `-max_rss`: largest first. */
  readonly sort?: string;
  /**
   * A task id: the first page starts at that task (or the first after it that matches); a
   * page_token, which carries on from wherever the listing got to, takes precedence.
   */
  readonly from?: string;
}

type Listing =
  | { readonly kind: 'order'; readonly filter: TaskFilter | undefined; readonly scope: string }
  | { readonly kind: 'usage'; readonly column: UsageColumn; readonly scope: string };

const USAGE_SORTS: Partial<Record<string, UsageColumn>> = { '-duration': 'wall_ms', '-max_rss': 'max_rss_bytes' };

const SORT_KEY = /^(?:[0-9a-f]{16})+$/;

function decodeTaskCursor(key: readonly unknown[]): TaskCursor {
  const [sortKey, jobIndex] = key;
  if (
    key.length !== 2 ||
    typeof sortKey !== 'string' ||
    !SORT_KEY.test(sortKey) ||
    typeof jobIndex !== 'number' ||
    !Number.isInteger(jobIndex) ||
    jobIndex < -1
  ) {
    throw new BadRequestError('page_token is malformed');
  }
  return { sortKey, jobIndex };
}

function decodeUsageCursor(key: readonly unknown[]): UsageCursor {
  const [value, ...position] = key;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadRequestError('page_token is malformed');
  return { value, ...decodeTaskCursor(position) };
}

/** The cursor just before task `taskId`, so that the page starts with it. */
function fromCursor(taskId: string | undefined): TaskCursor | undefined {
  if (taskId === undefined || taskId === '') return undefined;
  const parsed = parseTaskId(taskId);
  if (parsed === undefined) throw new BadRequestError(`from "${taskId}" is not a task id`);
  return { sortKey: parsed.sortKey, jobIndex: parsed.jobIndex === undefined ? BEFORE_STEP : parsed.jobIndex - 1 };
}
