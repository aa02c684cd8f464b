/**
 * Migration 0006's triggers on PostgreSQL: statement-level, over transition tables, so that a
 * statement writing 1,000 task rows or ending 1,000 jobs runs each trigger once and updates
 * each counter row once (row-level triggers made seeding 9× and a job's state change 40×
 * slower). Same model as the SQLite row triggers in 0006-task-states.ts:
 *   job updated ─▶ its task rows' copies refreshed (failure group ensured first)
 *   task rows inserted or linked to another job ─▶ copies set before the write (row-level)
 *   task rows inserted or updated ─▶ task_state_count / task_failure_count += (new − old)
 *   a job's cpu_seconds set ─▶ task_step_usage of its workflow step
 * Counter rows carry stripe = pg_backend_pid(): see 0006-task-states.ts. Frozen once released.
 *
 * Plans: every statement starts from the transition table and reaches the tables by primary
 * key or job_id index. The functions turn hash and merge joins and sequential scans off, so
 * that this holds whatever the statistics say (a table growing inside one long transaction
 * has none: a hash join over the whole association table per 1,000-row insert made seeding
 * quadratic), and JIT off (compiling these small statements cost more than running them).
 * Rows of a statement whose columns changed are found by grouping old and new rows together
 * (hashed, linear), never by joining the two transition tables.
 */
import { sql, type Kysely } from 'kysely';

const WIS = 'workflow_invocation_step';
const ICJJA = 'implicit_collection_jobs_job_association';
const NO_EXIT_CODE = -1;
type TaskTable = typeof WIS | typeof ICJJA;

const JOB_COPIED = ['state', 'exit_code', 'stderr_tail', 'start_time', 'end_time', 'max_rss_bytes'];

/** The new rows of this statement whose `columns` (besides id) differ from their old row. */
function changedRows(columns: readonly string[]): string {
  const list = ['id', ...columns].join(', ');
  return (
    `(select ${list} from (select true as is_new, ${list} from new_rows union all select false, ${list} from old_rows) u ` +
    `group by ${list} having count(*) = 1 and bool_and(u.is_new))`
  );
}

/** The workflow step of a task row `t` of `table`. */
function stepOf(table: TaskTable, t: string): string {
  return table === WIS ? `${t}.workflow_step_id` : `(select s.workflow_step_id from ${WIS} s where s.id = ${t}.workflow_invocation_step_id)`;
}

/**
 * Statements that refresh the task rows of `table` from their jobs: `pairs` is a relation of
 * (task row id `task_id`, job columns `src.*`) — which rows, from which job.
 */
function refresh(table: TaskTable, pairs: string): string[] {
  const exitCode = `coalesce(src.exit_code, ${NO_EXIT_CODE})`;
  const tail = `coalesce(src.stderr_tail, '')`;
  return [
    `insert into task_failure_group (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) ` +
      `select distinct t.workflow_invocation_id, ${stepOf(table, 't')}, ${exitCode}, ${tail} from ${pairs} src ` +
      `join ${table} t on t.id = src.task_id where src.state = 'error' ` +
      `on conflict (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) do nothing`,
    `update ${table} t set task_state = src.state, max_rss_bytes = src.max_rss_bytes, ` +
      `wall_ms = (extract(epoch from (src.end_time::timestamptz - src.start_time::timestamptz)) * 1000)::bigint, ` +
      `failure_group_id = case when src.state = 'error' then (select g.id from task_failure_group g where g.workflow_invocation_id = t.workflow_invocation_id ` +
      `and g.workflow_step_id = ${stepOf(table, 't')} and g.exit_code = ${exitCode} and g.stderr_tail = ${tail}) end ` +
      `from ${pairs} src where t.id = src.task_id`,
  ];
}

/** (task row, job) pairs: the rows of `table` whose job is among `jobs` (a relation of job rows). */
function rowsOfJobs(table: TaskTable, jobs: string): string {
  return `(select t.id as task_id, j.* from ${jobs} j join ${table} t on t.job_id = j.id)`;
}

/** The listed task rows of `rows` with their run, workflow step, state and failure group. */
function listed(table: TaskTable, rows: string): string {
  return table === WIS
    ? `(select r.workflow_invocation_id, r.workflow_step_id, r.task_state, r.failure_group_id from ${rows} r where r.collection_job_count = 0)`
    : `(select r.workflow_invocation_id, s.workflow_step_id, r.task_state, r.failure_group_id from ${rows} r join ${WIS} s on s.id = r.workflow_invocation_step_id)`;
}

/** Adds (new − old) of the listed rows to the state and failure counters. */
function countDeltas(table: TaskTable, withOld: boolean): string[] {
  const sides = [{ rows: listed(table, 'new_rows'), delta: 1 }, ...(withOld ? [{ rows: listed(table, 'old_rows'), delta: -1 }] : [])];
  const union = (columns: string) => sides.map((s) => `select ${columns}, ${s.delta} as d from ${s.rows} x`).join(' union all ');
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

/**
 * Statements run only when `rows` has any: a statement-level trigger fires for a statement that
 * changed no row too.
 */
function ifAny(rows: string, statements: readonly string[]): string {
  return `if exists (select 1 from ${rows} z) then ${statements.map((s) => `${s};`).join(' ')} end if`;
}

interface StatementTrigger {
  readonly name: string;
  readonly table: string;
  readonly event: 'insert' | 'update';
  readonly body: readonly string[];
}

function statementTriggers(): StatementTrigger[] {
  const changedJobs = changedRows(JOB_COPIED);
  // Jobs whose CPU time was set by this statement, with their wall time and peak memory.
  const wall = `(extract(epoch from (end_time::timestamptz - start_time::timestamptz)) * 1000)::bigint`;
  const newlyMeasured =
    `(select u.id, max(u.cpu) filter (where u.is_new) as cpu, max(u.wall) filter (where u.is_new) as wall, max(u.rss) filter (where u.is_new) as rss ` +
    `from (select true as is_new, id, cpu_seconds as cpu, ${wall} as wall, max_rss_bytes as rss from new_rows ` +
    `union all select false, id, cpu_seconds, null, null from old_rows) u ` +
    `group by u.id having bool_or(not u.is_new and u.cpu is null) and max(u.cpu) filter (where u.is_new) is not null)`;
  const measured = (table: TaskTable) =>
    `select t.workflow_invocation_id, ${stepOf(table, 't')}, pg_backend_pid(), count(*), sum(c.cpu), coalesce(sum(c.wall), 0), max(c.rss) ` +
    `from ${newlyMeasured} c join ${table} t on t.job_id = c.id group by 1, 2`;
  const taskTriggers = (table: TaskTable, short: string): StatementTrigger[] => [
    { name: `${short}_counts_insert`, table, event: 'insert', body: [ifAny('new_rows', countDeltas(table, false))] },
    { name: `${short}_counts_update`, table, event: 'update', body: [ifAny('new_rows', countDeltas(table, true))] },
  ];
  return [
    {
      name: 'job_refresh_tasks',
      table: 'job',
      event: 'update',
      body: [
        // Each guarded, so that a statement touching only collection jobs (or only single jobs)
        // does not run an empty UPDATE of the other table, which would fire its trigger.
        ifAny(changedJobs, [
          ifAny(rowsOfJobs(WIS, changedJobs), refresh(WIS, rowsOfJobs(WIS, changedJobs))),
          ifAny(rowsOfJobs(ICJJA, changedJobs), refresh(ICJJA, rowsOfJobs(ICJJA, changedJobs))),
        ]),
        ifAny(
          newlyMeasured,
          [WIS, ICJJA].map(
            (table) =>
              `insert into task_step_usage (workflow_invocation_id, workflow_step_id, stripe, jobs, cpu_seconds, wall_ms, max_rss_bytes) ${measured(table as TaskTable)} ` +
              `on conflict (workflow_invocation_id, workflow_step_id, stripe) do update set jobs = task_step_usage.jobs + excluded.jobs, ` +
              `cpu_seconds = task_step_usage.cpu_seconds + excluded.cpu_seconds, wall_ms = task_step_usage.wall_ms + excluded.wall_ms, ` +
              `max_rss_bytes = greatest(task_step_usage.max_rss_bytes, excluded.max_rss_bytes)`,
          ),
        ),
      ],
    },
    ...taskTriggers(WIS, 'wis'),
    ...taskTriggers(ICJJA, 'icjja'),
  ];
}

/**
 * A task row inserted with a job, or pointed at another one, takes its copies from that job
 * before it is written (one primary-key read; no second write of the row).
 */
function linkTrigger(table: TaskTable, short: string): string[] {
  const name = `${short}_copy_job`;
  const step = table === WIS ? 'new.workflow_step_id' : `(select s.workflow_step_id from ${WIS} s where s.id = new.workflow_invocation_step_id)`;
  return [
    `create function ${name}() returns trigger language plpgsql set jit = off as $fn$ declare j job%rowtype; begin ` +
      `select * into j from job where id = new.job_id; ` +
      `new.task_state := coalesce(j.state, 'none'); new.max_rss_bytes := j.max_rss_bytes; ` +
      `new.wall_ms := (extract(epoch from (j.end_time::timestamptz - j.start_time::timestamptz)) * 1000)::bigint; ` +
      `new.failure_group_id := null; ` +
      `if j.state = 'error' then ` +
      `insert into task_failure_group (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) ` +
      `values (new.workflow_invocation_id, ${step}, coalesce(j.exit_code, ${NO_EXIT_CODE}), coalesce(j.stderr_tail, '')) ` +
      `on conflict (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) do nothing; ` +
      `select g.id into new.failure_group_id from task_failure_group g where g.workflow_invocation_id = new.workflow_invocation_id ` +
      `and g.workflow_step_id = ${step} and g.exit_code = coalesce(j.exit_code, ${NO_EXIT_CODE}) and g.stderr_tail = coalesce(j.stderr_tail, ''); ` +
      `end if; return new; end $fn$`,
    `create trigger ${name}_insert before insert on ${table} for each row when (new.job_id is not null) execute function ${name}()`,
    `create trigger ${name}_update before update of job_id on ${table} for each row when (new.job_id is not null and new.job_id is distinct from old.job_id) execute function ${name}()`,
  ];
}

export async function createPostgresTriggers(db: Kysely<unknown>): Promise<void> {
  for (const statement of [...linkTrigger(WIS, 'wis'), ...linkTrigger(ICJJA, 'icjja')]) await sql.raw(statement).execute(db);
  for (const trigger of statementTriggers()) {
    const referencing = trigger.event === 'insert' ? 'new table as new_rows' : 'old table as old_rows new table as new_rows';
    await sql
      .raw(
        `create function ${trigger.name}() returns trigger language plpgsql ` +
          `set jit = off set enable_hashjoin = off set enable_mergejoin = off set enable_seqscan = off ` +
          `as $fn$ begin ${trigger.body.map((s) => `${s};`).join(' ')} return null; end $fn$`,
      )
      .execute(db);
    await sql
      .raw(`create trigger ${trigger.name} after ${trigger.event} on ${trigger.table} referencing ${referencing} for each statement execute function ${trigger.name}()`)
      .execute(db);
  }
}
