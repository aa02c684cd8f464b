/**
 * Task listing and lookup. A task is a step instance listed on its own (its single job, or
 * no job: an input, a skipped or not yet expanded step) or one job of a step's collection.
 * Tasks are ordered by (step sort_key, job_index), step-level tasks having job_index -1.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import { isPostgres } from '../dialect.js';
import type { Database } from '../database.js';
import type { JobState, TaskRowState } from '../tables/job.table.js';

export interface TaskCursor {
  readonly sortKey: string;
  /** The position within the step: -1 its step-level task, ≥ 0 a job, BEFORE_STEP the step's first task. */
  readonly jobIndex: number;
}

export interface TaskRow {
  readonly sort_key: string;
  readonly job_index: number;
  readonly task_path: string;
  readonly order_index: number;
  readonly label: string | null;
  readonly tool_id: string | null;
  readonly job_id: number | null;
  readonly job_state: JobState | null;
  readonly argv: string | null;
  readonly exit_code: number | null;
  readonly start_time: string | null;
  readonly end_time: string | null;
  readonly stdout_path: string | null;
  readonly stderr_path: string | null;
  readonly job_message: string | null;
  readonly cpu_seconds: number | null;
  readonly max_rss_bytes: number | null;
}

/**
 * Which tasks a page lists: all, those in one of some states, or those of one failure group.
 * Each value is a range of its own index (…_state_task_order_idx, …_failure_task_order_idx).
 */
export type TaskFilter =
  | { readonly states: readonly TaskRowState[] }
  | { readonly failureGroupId: number };

export const STEP_LEVEL_JOB_INDEX = -1;
/** A cursor position just before a step's first task (its step-level task or its job 0). */
export const BEFORE_STEP = -2;
const START: TaskCursor = { sortKey: '', jobIndex: STEP_LEVEL_JOB_INDEX };

type FilterRange = { readonly state: TaskRowState } | { readonly failureGroupId: number };

/** The ranges a page reads: one per filter value, or one unfiltered range without a filter. */
function filterRanges(filter: TaskFilter | undefined): (FilterRange | undefined)[] {
  if (filter === undefined) return [undefined];
  if ('states' in filter) return [...new Set(filter.states)].map((state) => ({ state }));
  return [filter];
}

/**
 * The tasks after `after` (exclusive), at most `limit`, in task order, narrowed by `filter`.
 * 1 query.
 *
 * The plan's single UNION ALL sorted as a whole would sort every remaining task of the run.
 * Here each branch is its own ordered LIMIT over an index range, so each reads at most
 * `limit` rows whatever the depth, and only their union (≤ 3·limit rows per filter value) is sorted:
 *  - step-level tasks:      wis_step_task_order_idx (run, collection_job_count = 0, sort_key > k)
 *  - rest of the current collection: icjja_task_order_idx (run, step_sort_key = k, order_index > j)
 *  - later collections:     icjja_task_order_idx (run, step_sort_key > k)
 * With a filter, each value gets these three branches on the (run, value, …) index of its
 * column (wis_state_task_order_idx, icjja_state_task_order_idx, and the failure ones), so 3 of
 * 1,000,000 matching tasks read 3 rows. Then, for the ≤ limit rows of the page only,
 * primary-key probes for the step, its workflow step and its job.
 */
export async function listTasksPage(
  db: Kysely<Database>,
  invocationId: number,
  after: TaskCursor | undefined,
  limit: number,
  filter?: TaskFilter,
): Promise<TaskRow[]> {
  const from = after ?? START;
  const branches = filterRanges(filter).flatMap((range) => {
    let stepLevel = stepLevelTasks(db, invocationId);
    let collectionJobs = collectionJobTasks(db, invocationId);
    if (range !== undefined && 'state' in range) {
      stepLevel = stepLevel.where('s.task_state', '=', range.state);
      collectionJobs = collectionJobs.where('a.task_state', '=', range.state);
    } else if (range !== undefined) {
      stepLevel = stepLevel.where('s.failure_group_id', '=', range.failureGroupId);
      collectionJobs = collectionJobs.where('a.failure_group_id', '=', range.failureGroupId);
    }
    return [
      stepLevel
        .where('s.collection_job_count', '=', 0)
        .where('s.sort_key', from.jobIndex === BEFORE_STEP ? '>=' : '>', from.sortKey)
        .orderBy('s.sort_key')
        .limit(limit),
      collectionJobs
        .where('a.step_sort_key', '=', from.sortKey)
        .where('a.order_index', '>', from.jobIndex)
        .orderBy('a.order_index')
        .limit(limit),
      collectionJobs.where('a.step_sort_key', '>', from.sortKey).orderBy('a.step_sort_key').orderBy('a.order_index').limit(limit),
    ];
  });
  const [first, ...rest] = branches.map((branch, i) => db.selectFrom(branch.as(`b${i}`)).selectAll());
  const page = rest.reduce((union, branch) => union.unionAll(branch), first);
  const ordered = db.selectFrom(page.as('t')).selectAll().orderBy('t.sort_key').orderBy('t.job_index').limit(limit);
  return decorateTasks(db, ordered, 'asc');
}

/** The column `listTasksByUsagePage` orders by. */
export type UsageColumn = 'wall_ms' | 'max_rss_bytes';

export interface UsageCursor extends TaskCursor {
  readonly value: number;
}

export interface UsageTaskRow extends TaskRow {
  readonly sort_value: number;
}

/**
 * The tasks that have a value in `column`, largest first (ties: later task first), after
 * `after`, at most `limit`. 1 query: two branches, each a backward walk of its index with a
 * LIMIT — wis_<column>_order_idx (run, collection_job_count = 0, column, sort_key) and
 * icjja_<column>_order_idx (run, column, step_sort_key, order_index) — then the page's rows
 * decorated by primary key. Top-N slowest / largest without reading the run.
 */
export async function listTasksByUsagePage(
  db: Kysely<Database>,
  invocationId: number,
  column: UsageColumn,
  after: UsageCursor | undefined,
  limit: number,
): Promise<UsageTaskRow[]> {
  let stepLevel = stepLevelTasks(db, invocationId)
    .select(`s.${column} as sort_value`)
    .where('s.collection_job_count', '=', 0)
    .where(`s.${column}`, 'is not', null);
  let collectionJobs = collectionJobTasks(db, invocationId)
    .select(`a.${column} as sort_value`)
    .where(`a.${column}`, 'is not', null);
  if (after !== undefined) {
    // Row values compare as the index orders, so each stays one index range.
    stepLevel = stepLevel.where(
      sql<boolean>`(${sql.ref(`s.${column}`)}, s.sort_key) < (${after.value}, ${after.sortKey})`,
    );
    collectionJobs = collectionJobs.where(
      sql<boolean>`(${sql.ref(`a.${column}`)}, a.step_sort_key, a.order_index) < (${after.value}, ${after.sortKey}, ${after.jobIndex})`,
    );
  }
  const page = db
    .selectFrom(stepLevel.orderBy(`s.${column}`, 'desc').orderBy('s.sort_key', 'desc').limit(limit).as('b1'))
    .selectAll()
    .unionAll(
      db
        .selectFrom(
          collectionJobs
            .orderBy(`a.${column}`, 'desc')
            .orderBy('a.step_sort_key', 'desc')
            .orderBy('a.order_index', 'desc')
            .limit(limit)
            .as('b2'),
        )
        .selectAll(),
    );
  const ordered = db
    .selectFrom(page.as('t'))
    .selectAll()
    .orderBy('t.sort_value', 'desc')
    .orderBy('t.sort_key', 'desc')
    .orderBy('t.job_index', 'desc')
    .limit(limit);
  return (await decorateTasks(db, ordered, 'desc')) as UsageTaskRow[];
}

/** A run's step instances as page rows (step-level tasks once narrowed to collection_job_count = 0). */
function stepLevelTasks(db: Kysely<Database>, invocationId: number) {
  return db
    .selectFrom('workflow_invocation_step as s')
    .select(['s.id as step_id', 's.sort_key as sort_key', sql<number>`${sql.lit(STEP_LEVEL_JOB_INDEX)}`.as('job_index'), 's.job_id as job_id'])
    .where('s.workflow_invocation_id', '=', invocationId);
}

/** A run's collection jobs as page rows. */
function collectionJobTasks(db: Kysely<Database>, invocationId: number) {
  return db
    .selectFrom('implicit_collection_jobs_job_association as a')
    .select(['a.workflow_invocation_step_id as step_id', 'a.step_sort_key as sort_key', 'a.order_index as job_index', 'a.job_id as job_id'])
    .where('a.workflow_invocation_id', '=', invocationId);
}

/** A page of (step_id, sort_key, job_index, job_id[, sort_value]) rows, ordered and limited. */
type PageRows<R extends PageRow> = SelectQueryBuilder<Database & { t: R }, 't', R>;
interface PageRow {
  step_id: number;
  sort_key: string;
  job_index: number;
  job_id: number | null;
}

/**
 * Joins the ≤ limit rows of a page to their step, workflow step and job, keeping the page's
 * order (ascending task order, or descending sort_value then task order).
 */
async function decorateTasks<R extends PageRow>(
  db: Kysely<Database>,
  ordered: PageRows<R>,
  direction: 'asc' | 'desc',
): Promise<(TaskRow & Omit<R, keyof PageRow>)[]> {
  const order = direction === 'asc' ? [] : ['sort_value'];
  // The page's own columns, without the step id and job id only used to join.
  const pageColumns = [...order, 'sort_key', 'job_index'].map((column) => sql.ref(`p.${column}`).as(column));
  if (isPostgres(db)) {
    // LATERAL … LIMIT 1 keeps these per-row primary-key probes: as plain joins PostgreSQL may
    // hash or merge a whole step or job table instead, which costs more as the store grows.
    let query = db
      .selectFrom(ordered.as('p'))
      .innerJoinLateral(
        (eb) =>
          eb
            .selectFrom('workflow_invocation_step as s')
            .select(['s.task_path', 's.order_index', 's.workflow_step_id'])
            .whereRef('s.id', '=', 'p.step_id')
            .limit(1)
            .as('s'),
        (join) => join.onTrue(),
      )
      .innerJoinLateral(
        (eb) =>
          eb
            .selectFrom('workflow_step as ws')
            .select(['ws.label', 'ws.tool_id'])
            .whereRef('ws.id', '=', 's.workflow_step_id')
            .limit(1)
            .as('ws'),
        (join) => join.onTrue(),
      )
      .leftJoinLateral(
        (eb) => eb.selectFrom('job as j').select(JOB_COLUMNS).whereRef('j.id', '=', 'p.job_id').limit(1).as('job'),
        (join) => join.onTrue(),
      )
      .select(pageColumns)
      .select(STEP_COLUMNS)
      .selectAll('job');
    for (const column of [...order, 'sort_key', 'job_index']) query = query.orderBy(sql.ref(`p.${column}`), direction);
    return (await query.execute()) as unknown as (TaskRow & Omit<R, keyof PageRow>)[];
  }
  // SQLite has no hash or merge joins: these are primary-key lookups per page row.
  let query = db
    .selectFrom(ordered.as('p'))
    .innerJoin('workflow_invocation_step as s', 's.id', 'p.step_id')
    .innerJoin('workflow_step as ws', 'ws.id', 's.workflow_step_id')
    .leftJoin('job as j', 'j.id', 'p.job_id')
    .select(pageColumns)
    .select([...STEP_COLUMNS, ...JOB_COLUMNS]);
  for (const column of [...order, 'sort_key', 'job_index']) query = query.orderBy(sql.ref(`p.${column}`), direction);
  return (await query.execute()) as unknown as (TaskRow & Omit<R, keyof PageRow>)[];
}

/**
 * One task by its step path and, for a collection job, its index. 1 query through
 * wis_task_path_uq (+ icjja_collection_order_uq) and primary keys.
 */
export async function findTask(
  db: Kysely<Database>,
  invocationId: number,
  stepPath: string,
  jobIndex: number | undefined,
): Promise<TaskRow | undefined> {
  const step = db
    .selectFrom('workflow_invocation_step as s')
    .where('s.workflow_invocation_id', '=', invocationId)
    .where('s.task_path', '=', stepPath);
  if (jobIndex === undefined) {
    return step
      .where('s.collection_job_count', '=', 0)
      .innerJoin('workflow_step as ws', 'ws.id', 's.workflow_step_id')
      .leftJoin('job as j', 'j.id', 's.job_id')
      .select(['s.sort_key', sql<number>`${sql.lit(STEP_LEVEL_JOB_INDEX)}`.as('job_index'), ...STEP_COLUMNS, ...JOB_COLUMNS])
      .executeTakeFirst();
  }
  return step
    .innerJoin('implicit_collection_jobs_job_association as a', (join) =>
      join.onRef('a.implicit_collection_jobs_id', '=', 's.implicit_collection_jobs_id').on('a.order_index', '=', jobIndex),
    )
    .innerJoin('workflow_step as ws', 'ws.id', 's.workflow_step_id')
    .innerJoin('job as j', 'j.id', 'a.job_id')
    .select(['s.sort_key', 'a.order_index as job_index', ...STEP_COLUMNS, ...JOB_COLUMNS])
    .executeTakeFirst();
}

/** The columns a task row carries from its step (s) and workflow step (ws). */
const STEP_COLUMNS = ['s.task_path', 's.order_index', 'ws.label', 'ws.tool_id'] as const;

/** The columns a task row carries from its job (j). */
const JOB_COLUMNS = [
  'j.id as job_id',
  'j.state as job_state',
  'j.argv',
  'j.exit_code',
  'j.start_time',
  'j.end_time',
  'j.stdout_path',
  'j.stderr_path',
  'j.message as job_message',
  'j.cpu_seconds',
  'j.max_rss_bytes',
] as const;
