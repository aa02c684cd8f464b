/**
 * Use cases on a run's tasks: a keyset page of the task list, one task by id, and the path
 * of a task's stdout/stderr. Each costs the run lookup plus one store query.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { countTasksByState, findTask, listTasksPage, type TaskCursor, type TaskRow } from '../store/queries/tasks.js';
import { parseTaskId } from '../store/task-path.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { PageTokenCodec } from './page-token.js';
import { presentToken, resolvePageSize, splitLookAhead, type PageRequest } from './paging.js';
import { getOwnedRun, type Caller } from './run-service.js';
import { taskStateOf, toTaskLog } from './to-wes.js';
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

  /** 2 queries: the run, then the page (with a look-ahead row to know whether more follow). */
  async listTasks(caller: Caller, runId: string, page: PageRequest, baseUrl: string): Promise<TaskListResponse> {
    const pageSize = resolvePageSize(page.pageSize);
    const token = presentToken(page.pageToken);
    const run = await getOwnedRun(this.#db, caller, runId);
    const scope = `tasks:${run.uuid}`;
    const after = token === undefined ? undefined : decodeTaskCursor(this.#tokens.decode(token, scope));
    const { items, continueAfter: last } = splitLookAhead(await listTasksPage(this.#db, run.id, after, pageSize + 1), pageSize);
    return {
      task_logs: items.map((row) => toTaskLog(row, baseUrl, run.uuid)),
      next_page_token: last === undefined ? '' : this.#tokens.encode(scope, [last.sort_key, last.job_index]),
    };
  }

  /** 2 queries: the run, then one pass over its tasks (for progress, not per page). */
  async countTasks(caller: Caller, runId: string): Promise<TaskCounts> {
    const run = await getOwnedRun(this.#db, caller, runId);
    const states: Record<string, number> = {};
    let total = 0;
    for (const [jobState, n] of await countTasksByState(this.#db, run.id)) {
      const state = taskStateOf(jobState);
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
