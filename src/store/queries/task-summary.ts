/**
 * What a run's counters say (migration 0006): tasks per state and workflow step, resource use
 * per workflow step, and failure groups. The counters are kept by triggers in the transaction
 * of each change, so they equal what the task pages list; reading them never touches a task
 * row. Counter rows are striped (one per PostgreSQL connection that wrote them): sums here.
 */
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';
import type { Database } from '../database.js';
import type { TaskRowState } from '../tables/job.table.js';

export interface StepStateCount {
  readonly workflow_step_id: number;
  readonly task_state: TaskRowState;
  readonly n: number;
}

export interface StepUsage {
  readonly workflow_step_id: number;
  readonly jobs: number;
  readonly cpu_seconds: number;
  readonly wall_ms: number;
  readonly max_rss_bytes: number | null;
}

export interface WorkflowStepName {
  readonly id: number;
  readonly order_index: number;
  readonly label: string | null;
  readonly tool_id: string | null;
}

/** task_state_count_pk range (run); rows: workflow steps × states × stripes, never tasks. 1 query. */
export async function listStepStateCounts(db: Kysely<Database>, invocationId: number): Promise<StepStateCount[]> {
  const rows = await db
    .selectFrom('task_state_count')
    .select(['workflow_step_id', 'task_state', (eb) => eb.fn.sum<number>('n').as('n')])
    .where('workflow_invocation_id', '=', invocationId)
    .groupBy(['workflow_step_id', 'task_state'])
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) })).filter((r) => r.n !== 0);
}

/** task_step_usage_pk range (run); rows: workflow steps × stripes. 1 query. */
export async function listStepUsage(db: Kysely<Database>, invocationId: number): Promise<StepUsage[]> {
  const rows = await db
    .selectFrom('task_step_usage')
    .select((eb) => [
      'workflow_step_id',
      eb.fn.sum<number>('jobs').as('jobs'),
      eb.fn.sum<number>('cpu_seconds').as('cpu_seconds'),
      eb.fn.sum<number>('wall_ms').as('wall_ms'),
      eb.fn.max('max_rss_bytes').as('max_rss_bytes'),
    ])
    .where('workflow_invocation_id', '=', invocationId)
    .groupBy('workflow_step_id')
    .execute();
  return rows.map((r) => ({
    workflow_step_id: r.workflow_step_id,
    jobs: Number(r.jobs),
    cpu_seconds: Number(r.cpu_seconds),
    wall_ms: Number(r.wall_ms),
    max_rss_bytes: r.max_rss_bytes === null ? null : Number(r.max_rss_bytes),
  }));
}

/** The names of some workflow steps, by primary key. 1 query. */
export async function listWorkflowStepNames(db: Kysely<Database>, ids: readonly number[]): Promise<WorkflowStepName[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('workflow_step').select(['id', 'order_index', 'label', 'tool_id']).where('id', 'in', [...ids]).execute();
}

export interface FailureGroupRow {
  readonly id: number;
  readonly workflow_step_id: number;
  readonly exit_code: number;
  readonly stderr_tail: string;
  readonly label: string | null;
  readonly tool_id: string | null;
  readonly order_index: number;
  readonly n: number;
}

/**
 * A run's failure groups that still have tasks, in the order they first appeared, after group
 * `afterId`, at most `limit`. 1 query: task_failure_group_run_idx (run, id > k) walked in
 * order, each group's count rows by task_failure_count_pk and its step by primary key; only
 * emptied groups (every task of it retried) are read past.
 */
export async function listFailureGroupsPage(
  db: Kysely<Database>,
  invocationId: number,
  afterId: number,
  limit: number,
): Promise<FailureGroupRow[]> {
  const groupCount = (eb: ExpressionBuilder<Database & { g: Database['task_failure_group'] }, 'g'>) =>
    eb.selectFrom('task_failure_count as c').select((c) => c.fn.sum<number>('c.n').as('n')).whereRef('c.failure_group_id', '=', 'g.id');
  const groups = db
    .selectFrom('task_failure_group as g')
    .select(['g.id', 'g.workflow_step_id', 'g.exit_code', 'g.stderr_tail', (eb) => groupCount(eb).as('n')])
    .where('g.workflow_invocation_id', '=', invocationId)
    .where('g.id', '>', afterId)
    .where((eb) => eb(groupCount(eb), '>', 0))
    .orderBy('g.id')
    .limit(limit);
  const columns = ['p.id', 'p.workflow_step_id', 'p.exit_code', 'p.stderr_tail', 'p.n', 'ws.label', 'ws.tool_id', 'ws.order_index'] as const;
  // The page's steps by primary key: LATERAL … LIMIT 1 on PostgreSQL, as for task pages.
  const rows = isPostgres(db)
    ? await db
        .selectFrom(groups.as('p'))
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('workflow_step as ws')
              .select(['ws.label', 'ws.tool_id', 'ws.order_index'])
              .whereRef('ws.id', '=', 'p.workflow_step_id')
              .limit(1)
              .as('ws'),
          (join) => join.onTrue(),
        )
        .select(columns)
        .orderBy('p.id')
        .execute()
    : await db.selectFrom(groups.as('p')).innerJoin('workflow_step as ws', 'ws.id', 'p.workflow_step_id').select(columns).orderBy('p.id').execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/** One failure group of a run; task_failure_group primary key. 1 query. */
export async function findFailureGroup(db: Kysely<Database>, invocationId: number, groupId: number): Promise<{ id: number } | undefined> {
  return db
    .selectFrom('task_failure_group')
    .select('id')
    .where('id', '=', groupId)
    .where('workflow_invocation_id', '=', invocationId)
    .executeTakeFirst();
}

export interface GroupTaskRow {
  readonly failure_group_id: number;
  readonly task_path: string;
  readonly sort_key: string;
  readonly job_index: number;
}

/**
 * The first `perGroup` tasks (in task order) of each of some failure groups. 1 query: per
 * group, a LIMITed range of wis_failure_task_order_idx and of icjja_failure_task_order_idx,
 * then each collection job's step path by primary key.
 */
export async function listFirstTasksOfGroups(
  db: Kysely<Database>,
  invocationId: number,
  groupIds: readonly number[],
  perGroup: number,
): Promise<GroupTaskRow[]> {
  if (groupIds.length === 0) return [];
  const branches = groupIds.flatMap((groupId) => [
    db
      .selectFrom('workflow_invocation_step as s')
      .select([
        's.failure_group_id as failure_group_id',
        's.id as step_id',
        's.sort_key as sort_key',
        sql<number>`-1`.as('job_index'),
      ])
      .where('s.workflow_invocation_id', '=', invocationId)
      .where('s.failure_group_id', '=', groupId)
      .where('s.collection_job_count', '=', 0)
      .orderBy('s.sort_key')
      .limit(perGroup),
    db
      .selectFrom('implicit_collection_jobs_job_association as a')
      .select([
        'a.failure_group_id as failure_group_id',
        'a.workflow_invocation_step_id as step_id',
        'a.step_sort_key as sort_key',
        'a.order_index as job_index',
      ])
      .where('a.workflow_invocation_id', '=', invocationId)
      .where('a.failure_group_id', '=', groupId)
      .orderBy('a.step_sort_key')
      .orderBy('a.order_index')
      .limit(perGroup),
  ]);
  const [first, ...rest] = branches.map((branch, i) => db.selectFrom(branch.as(`b${i}`)).selectAll());
  const union = rest.reduce((all, branch) => all.unionAll(branch), first);
  const rows = isPostgres(db)
    ? await db
        .selectFrom(union.as('p'))
        .innerJoinLateral(
          (eb) => eb.selectFrom('workflow_invocation_step as s').select('s.task_path').whereRef('s.id', '=', 'p.step_id').limit(1).as('s'),
          (join) => join.onTrue(),
        )
        .select(['p.failure_group_id', 's.task_path', 'p.sort_key', 'p.job_index'])
        .execute()
    : await db
        .selectFrom(union.as('p'))
        .innerJoin('workflow_invocation_step as s', 's.id', 'p.step_id')
        .select(['p.failure_group_id', 's.task_path', 'p.sort_key', 'p.job_index'])
        .execute();
  return rows.map((r) => ({ ...r, failure_group_id: Number(r.failure_group_id) }));
}
