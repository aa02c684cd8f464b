/**
 * bench:tasks rows for issue 10, on a run whose finished jobs are 1% failed, ~49.5% ok and
 * ~49.5% skipped, each with a wall time: state-filtered pages (first, middle, last) with 1%,
 * 50% and 100% of the tasks matching; the task summary; failure groups (first and last page);
 * top-N by duration (first, middle, last page). Each row is one store call as the service
 * makes it (page_size + 1 rows); the run lookup the service adds is not counted.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/store/database.js';
import type { Dialect } from '../src/store/dialect.js';
import { listTasksByUsagePage, listTasksPage, type TaskCursor, type TaskFilter, type UsageCursor } from '../src/store/queries/tasks.js';
import {
  listFailureGroupsPage,
  listFirstTasksOfGroups,
  listStepStateCounts,
  listStepUsage,
  listWorkflowStepNames,
} from '../src/store/queries/task-summary.js';
import type { TaskRowState } from '../src/store/tables/job.table.js';

export const PAGE_SIZE = 100;
const GROUP_PAGE = 20;

/** Job n's state in the benchmark run. */
export function benchJobState(n: number): 'ok' | 'error' | 'skipped' {
  return n % 100 === 99 ? 'error' : n % 2 === 0 ? 'ok' : 'skipped';
}

/** Job n's wall time in seconds: spread so top-N has a real order to walk. */
export function benchJobSeconds(n: number): number {
  return (n * 7919) % 86_400;
}

export const STATE_FILTERS: Record<string, readonly TaskRowState[]> = {
  '1%': ['error'],
  '50%': ['ok'],
  '100%': ['none', 'ok', 'skipped', 'error'],
};

export interface StateRow {
  dialect: Dialect;
  size: string;
  tasks: number;
  query: string;
  page: string;
  matching: number;
  queries: number;
  medianMs: number;
  reps: number;
  /** At the largest size, the EXPLAIN verdict over every query of the call (see tasks-page.bench.ts planOf). */
  plan?: 'index-only' | 'index-only*' | 'SCAN';
}

type Timer = (call: () => Promise<unknown>) => Promise<{ medianMs: number; reps: number; queries: number; plan?: StateRow['plan'] }>;

/** The cursor just before the task at 0-based `index` of the filtered task order (setup, not timed). */
async function filteredCursorAt(db: Kysely<Database>, run: number, states: readonly TaskRowState[], index: number): Promise<TaskCursor> {
  const { rows } = await sql<{ sort_key: string; job_index: number }>`
    select t.sort_key, t.job_index from (
      select s.sort_key as sort_key, -1 as job_index from workflow_invocation_step s
       where s.workflow_invocation_id = ${run} and s.collection_job_count = 0 and s.task_state in (${sql.join([...states])})
      union all
      select a.step_sort_key, a.order_index from implicit_collection_jobs_job_association a
       where a.workflow_invocation_id = ${run} and a.task_state in (${sql.join([...states])})
    ) t order by t.sort_key, t.job_index limit 1 offset ${index}`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error(`no matching task at ${index}`);
  return { sortKey: row.sort_key, jobIndex: Number(row.job_index) };
}

async function countMatching(db: Kysely<Database>, run: number, states: readonly TaskRowState[]): Promise<number> {
  const counts = await listStepStateCounts(db, run);
  return counts.filter((c) => states.includes(c.task_state)).reduce((n, c) => n + c.n, 0);
}

/** The cursor just before position `index` of the run's tasks by wall time, largest first (setup). */
async function usageCursorAt(db: Kysely<Database>, run: number, index: number): Promise<UsageCursor> {
  const { rows } = await sql<{ v: number; sort_key: string; job_index: number }>`
    select t.v, t.sort_key, t.job_index from (
      select s.wall_ms as v, s.sort_key as sort_key, -1 as job_index from workflow_invocation_step s
       where s.workflow_invocation_id = ${run} and s.collection_job_count = 0 and s.wall_ms is not null
      union all
      select a.wall_ms, a.step_sort_key, a.order_index from implicit_collection_jobs_job_association a
       where a.workflow_invocation_id = ${run} and a.wall_ms is not null
    ) t order by t.v desc, t.sort_key desc, t.job_index desc limit 1 offset ${index}`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error(`no measured task at ${index}`);
  return { value: Number(row.v), sortKey: row.sort_key, jobIndex: Number(row.job_index) };
}

function positions(matching: number): Record<'first' | 'middle' | 'last', number> {
  const pages = Math.max(1, Math.ceil(matching / PAGE_SIZE));
  return { first: 0, middle: Math.floor(pages / 2) * PAGE_SIZE, last: (pages - 1) * PAGE_SIZE };
}

export async function measureStateRows(
  db: Kysely<Database>,
  context: { dialect: Dialect; size: string; tasks: number; run: number },
  time: Timer,
): Promise<StateRow[]> {
  const rows: StateRow[] = [];
  const { run } = context;
  const row = (query: string, page: string, matching: number, m: Awaited<ReturnType<Timer>>) =>
    rows.push({ ...context, query, page, matching, ...m });

  for (const [label, states] of Object.entries(STATE_FILTERS)) {
    const matching = await countMatching(db, run, states);
    const filter: TaskFilter = { states };
    for (const [page, offset] of Object.entries(positions(matching))) {
      const cursor = offset === 0 ? undefined : await filteredCursorAt(db, run, states, offset - 1);
      const got = await listTasksPage(db, run, cursor, PAGE_SIZE + 1, filter);
      if (got.length !== Math.min(PAGE_SIZE + 1, matching - offset)) throw new Error(`${label} ${page}: ${got.length} rows`);
      row(`state ${label}`, page, matching, await time(() => listTasksPage(db, run, cursor, PAGE_SIZE + 1, filter)));
    }
  }

  row('task-summary', '-', context.tasks, await time(async () => {
    const counts = await listStepStateCounts(db, run);
    await listStepUsage(db, run);
    await listWorkflowStepNames(db, [...new Set(counts.map((c) => c.workflow_step_id))]);
  }));

  const allGroups = await listFailureGroupsPage(db, run, 0, 1_000_000);
  const lastPageAfter = allGroups.length > GROUP_PAGE ? allGroups[Math.floor((allGroups.length - 1) / GROUP_PAGE) * GROUP_PAGE - 1].id : 0;
  for (const [page, after] of [['first', 0], ['last', lastPageAfter]] as const) {
    row('failure groups', page, allGroups.length, await time(async () => {
      const groups = await listFailureGroupsPage(db, run, after, GROUP_PAGE + 1);
      await listFirstTasksOfGroups(db, run, groups.slice(0, GROUP_PAGE).map((g) => g.id), 3);
    }));
  }

  // Every finished job has a wall time.
  const measured = await countMatching(db, run, ['ok', 'error', 'skipped']);
  for (const [page, offset] of Object.entries(positions(measured))) {
    const cursor = offset === 0 ? undefined : await usageCursorAt(db, run, offset - 1);
    row('top-N by duration', page, measured, await time(() => listTasksByUsagePage(db, run, 'wall_ms', cursor, PAGE_SIZE + 1)));
  }
  return rows;
}

/**
 * last ÷ first per (dialect, size, query) with pages; largest ÷ smallest run per (dialect, query,
 * page) for the full pages (first, middle: a last page holds fewer rows at one size than at
 * another). The task summary is left out of the latter: it reads rows per workflow step, and the
 * 1M shape has 1,002 steps against 102 (its figures are in the table).
 */
export function stateRatios(rows: readonly StateRow[]): { lastOverFirst: { dialect: Dialect; size: string; query: string; ratio: number }[]; largestOverSmallest: { dialect: Dialect; query: string; page: string; ratio: number }[] } {
  const lastOverFirst = [];
  const largestOverSmallest = [];
  for (const r of rows.filter((r) => r.page === 'first')) {
    const last = rows.find((o) => o.dialect === r.dialect && o.size === r.size && o.query === r.query && o.page === 'last');
    if (last !== undefined) lastOverFirst.push({ dialect: r.dialect, size: r.size, query: r.query, ratio: Math.round((last.medianMs / r.medianMs) * 100) / 100 });
  }
  const sizes = [...new Set(rows.map((r) => r.size))];
  if (sizes.length > 1) {
    for (const r of rows.filter((r) => r.size === sizes[0] && (r.page === 'first' || r.page === 'middle'))) {
      const large = rows.find((o) => o.dialect === r.dialect && o.size === sizes[sizes.length - 1] && o.query === r.query && o.page === r.page);
      if (large !== undefined) largestOverSmallest.push({ dialect: r.dialect, query: r.query, page: r.page, ratio: Math.round((large.medianMs / r.medianMs) * 100) / 100 });
    }
  }
  return { lastOverFirst, largestOverSmallest };
}
