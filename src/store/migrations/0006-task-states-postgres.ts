/**
 * Migration 0006's triggers on PostgreSQL: statement-level, over transition tables, so that a
 * statement writing 1,000 task rows or ending 1,000 jobs runs each trigger once and updates
 * each counter row once (row-level triggers made seeding 9× and a job's state change 40×
 * slower). Same model as the SQLite row triggers in 0006-task-states.ts:
 *   job updated ─▶ its task rows' copies refreshed (failure group ensured first)
 *   task rows inserted or linked to another job ─▶ refreshed from their job
 *   task rows inserted or updated ─▶ task_state_count / task_failure_count += (new − old)
 *   a job's cpu_seconds set ─▶ task_step_usage of its workflow step
 * Counter rows carry stripe = pg_backend_pid(): see 0006-task-states.ts. Frozen once released.
 */
import { sql, type Kysely } from 'kysely';

const WIS = 'workflow_invocation_step';
const ICJJA = 'implicit_collection_jobs_job_association';
const NO_EXIT_CODE = -1;

/** A listed-task relation over `rows` (a table or transition table) with run, workflow step and job columns. */
const tasksOf = {
  [WIS]: (rows: string) =>
    `(select r.id, r.job_id, r.workflow_invocation_id, r.workflow_step_id, r.task_state, r.failure_group_id, r.collection_job_count = 0 as listed from ${rows} r)`,
  [ICJJA]: (rows: string) =>
    `(select r.id, r.job_id, r.workflow_invocation_id, s.workflow_step_id, r.task_state, r.failure_group_id, true as listed from ${rows} r ` +
    `join ${WIS} s on s.id = r.workflow_invocation_step_id)`,
};
type TaskTable = keyof typeof tasksOf;

/**
 * Refreshes the copies of the task rows of `table` whose job is in `jobs` (a relation with the
 * job's columns) and that `rowFilter` (over alias t) admits: the failure group first, then one
 * UPDATE … FROM.
 */
function refresh(table: TaskTable, jobs: string, rowFilter = 'true'): string[] {
  const exitCode = `coalesce(src.exit_code, ${NO_EXIT_CODE})`;
  const tail = `coalesce(src.stderr_tail, '')`;
  const stepOf = table === WIS ? 't.workflow_step_id' : `(select s.workflow_step_id from ${WIS} s where s.id = t.workflow_invocation_step_id)`;
  return [
    `insert into task_failure_group (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) ` +
      `select distinct t.workflow_invocation_id, t.workflow_step_id, ${exitCode}, ${tail} from ${jobs} src ` +
      `join ${tasksOf[table](table)} t on t.job_id = src.id where src.state = 'error' and ${rowFilter} ` +
      `on conflict (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) do nothing`,
    `update ${table} t set task_state = src.state, max_rss_bytes = src.max_rss_bytes, ` +
      `wall_ms = (extract(epoch from (src.end_time::timestamptz - src.start_time::timestamptz)) * 1000)::bigint, ` +
      `failure_group_id = case when src.state = 'error' then (select g.id from task_failure_group g where g.workflow_invocation_id = t.workflow_invocation_id ` +
      `and g.workflow_step_id = ${stepOf} and g.exit_code = ${exitCode} and g.stderr_tail = ${tail}) end ` +
      `from ${jobs} src where t.job_id = src.id and ${rowFilter}`,
  ];
}

/**
 * Statements run only when `rows` has any: a statement-level trigger fires for a statement that
 * changed no row too, and a refresh that updates no row must not fire the next one.
 */
function ifAny(rows: string, statements: readonly string[]): string {
  return `if exists (select 1 from ${rows} z) then ${statements.map((s) => `${s};`).join(' ')} end if`;
}

/** Adds (new − old) of the listed rows to the state and failure counters. */
function countDeltas(table: TaskTable, newRows: string | undefined, oldRows: string | undefined): string[] {
  const sides = [
    ...(newRows === undefined ? [] : [{ rows: tasksOf[table](newRows), delta: 1 }]),
    ...(oldRows === undefined ? [] : [{ rows: tasksOf[table](oldRows), delta: -1 }]),
  ];
  const union = (columns: string) => sides.map((s) => `select ${columns}, ${s.delta} as d from ${s.rows} x where x.listed`).join(' union all ');
  return [
    `insert into task_state_count (workflow_invocation_id, workflow_step_id, task_state, stripe, n) ` +
      `select workflow_invocation_id, workflow_step_id, task_state, pg_backend_pid(), sum(d) from (${union('x.workflow_invocation_id, x.workflow_step_id, x.task_state')}) c ` +
      `group by workflow_invocation_id, workflow_step_id, task_state having sum(d) <> 0 ` +
      `on conflict (workflow_invocation_id, workflow_step_id, task_state, stripe) do update set n = task_state_count.n + excluded.n`,
    `insert into task_failure_count (failure_group_id, stripe, n) ` +
      `select failure_group_id, pg_backend_pid(), sum(d) from (${union('x.failure_group_id')}) c where failure_group_id is not null ` +
      `group by failure_group_id having sum(d) <> 0 ` +
      `on conflict (failure_group_id, stripe) do update set n = task_failure_count.n + excluded.n`,
  ];
}

const JOB_COPIED = ['state', 'exit_code', 'stderr_tail', 'start_time', 'end_time', 'max_rss_bytes'];

/**
 * The ids of the rows of this statement whose `columns` changed: a row whose old and new
 * values differ appears twice in the UNION. Hashed, so linear in the statement's rows; a join
 * of the two transition tables (which have no statistics) became a nested loop, quadratic.
 */
function changedIds(columns: readonly string[]): string {
  const list = ['id', ...columns].join(', ');
  return `(select u.id from (select ${list} from new_rows union select ${list} from old_rows) u group by u.id having count(*) > 1)`;
}

interface StatementTrigger {
  readonly name: string;
  readonly table: string;
  readonly event: 'insert' | 'update';
  readonly body: readonly string[];
}

function statementTriggers(): StatementTrigger[] {
  // Jobs of this statement whose copied columns changed; task rows pointed at another job.
  const changedJobs = `(select n.* from new_rows n where n.id in ${changedIds(JOB_COPIED)})`;
  const linkedJobs = (rows: string) => `(select j.* from job j where j.id in (select r.job_id from ${rows} r))`;
  const relinked = `(select n.* from new_rows n where n.id in ${changedIds(['job_id'])})`;
  const measured = (table: TaskTable) =>
    `select t.workflow_invocation_id, t.workflow_step_id, pg_backend_pid(), count(*), sum(n.cpu_seconds), ` +
    `coalesce(sum((extract(epoch from (n.end_time::timestamptz - n.start_time::timestamptz)) * 1000)::bigint), 0), max(n.max_rss_bytes) ` +
    `from new_rows n join ${tasksOf[table](table)} t on t.job_id = n.id ` +
    `where n.cpu_seconds is not null and n.id in (select o.id from old_rows o where o.cpu_seconds is null) ` +
    `group by t.workflow_invocation_id, t.workflow_step_id`;
  return [
    {
      name: 'job_refresh_tasks',
      table: 'job',
      event: 'update',
      body: [
        ifAny(changedJobs, [...refresh(WIS, changedJobs), ...refresh(ICJJA, changedJobs)]),
        ...[WIS, ICJJA].map(
          (table) =>
            `insert into task_step_usage (workflow_invocation_id, workflow_step_id, stripe, jobs, cpu_seconds, wall_ms, max_rss_bytes) ${measured(table as TaskTable)} ` +
            `on conflict (workflow_invocation_id, workflow_step_id, stripe) do update set jobs = task_step_usage.jobs + excluded.jobs, ` +
            `cpu_seconds = task_step_usage.cpu_seconds + excluded.cpu_seconds, wall_ms = task_step_usage.wall_ms + excluded.wall_ms, ` +
            `max_rss_bytes = greatest(task_step_usage.max_rss_bytes, excluded.max_rss_bytes)`,
        ),
      ],
    },
    ...[WIS, ICJJA].flatMap((table): StatementTrigger[] => [
      {
        name: `${table === WIS ? 'wis' : 'icjja'}_counts_insert`,
        table,
        event: 'insert',
        body: [
          ...countDeltas(table as TaskTable, 'new_rows', undefined),
          ifAny(`(select r.id from new_rows r where r.job_id is not null)`, refresh(table as TaskTable, linkedJobs('new_rows'), 't.id in (select r.id from new_rows r)')),
        ],
      },
      {
        name: `${table === WIS ? 'wis' : 'icjja'}_counts_update`,
        table,
        event: 'update',
        body: [
          ...countDeltas(table as TaskTable, 'new_rows', 'old_rows'),
          // Rows pointed at another job: refreshed, which updates them again (this trigger then counts that change).
          ifAny(relinked, refresh(table as TaskTable, linkedJobs(relinked), `t.id in (select r.id from ${relinked} r)`)),
        ],
      },
    ]),
  ];
}

export async function createPostgresTriggers(db: Kysely<unknown>): Promise<void> {
  for (const trigger of statementTriggers()) {
    const referencing = trigger.event === 'insert' ? 'new table as new_rows' : 'old table as old_rows new table as new_rows';
    await sql
      // JIT compiling these small statements (their estimates over transition tables look large) cost more than running them.
      .raw(`create function ${trigger.name}() returns trigger language plpgsql set jit = off as $fn$ begin ${trigger.body.map((s) => `${s};`).join(' ')} return null; end $fn$`)
      .execute(db);
    await sql
      .raw(`create trigger ${trigger.name} after ${trigger.event} on ${trigger.table} referencing ${referencing} for each statement execute function ${trigger.name}()`)
      .execute(db);
  }
}
