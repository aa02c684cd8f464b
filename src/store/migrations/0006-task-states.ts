/**
 * Task states, counters, failure groups and resource use (issue 10). Frozen once released.
 *
 * Every listed task row (a step-level `workflow_invocation_step` row, or a collection job's
 * `implicit_collection_jobs_job_association` row) gets copies of what its job says, so that
 * filtering and sorting stay index range reads in task order:
 *   task_state        the job's state, 'none' without a job
 *   failure_group_id  the (run, workflow step, exit code, stderr tail) group of a failed job
 *   wall_ms, max_rss_bytes   the job's wall time and peak memory once it ended
 * and the job gets `cpu_seconds`, `max_rss_bytes` and `stderr_tail` (the last line of its
 * stderr, written with its end).
 *
 * The copies and the counters are kept by TRIGGERS (row-level here for SQLite, statement-level
 * over transition tables for PostgreSQL in 0006-task-states-postgres.ts), so every writer of `job` or of the task
 * rows (the runner, a batched job writer, `wes seed`) keeps them exact without knowing of them,
 * in the same transaction as the change:
 *   job changes ─▶ its task row(s) refreshed ─▶ task_state_count / task_failure_count ±1
 *   a task row linked to a job (insert, job_id set or replaced) ─▶ refreshed from that job
 *   a step's collection_job_count leaving 0 ─▶ its step-level task leaves the counts
 *   a job's usage set ─▶ task_step_usage (CPU sum, peak RSS) of its workflow step
 *
 * Counter rows are per (run, workflow step, state, stripe). On PostgreSQL the stripe is the
 * backend's pid: a connection runs one transaction at a time, so two concurrent transactions
 * never update the same counter row and can neither wait on nor deadlock each other over
 * counters (a batched writer touching many steps in any order included). Readers sum the
 * stripes. SQLite has one writer at a time: stripe 0.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.js';
import { createPostgresTriggers } from './0006-task-states-postgres.js';

export function taskStatesMigration(dialect: Dialect): Migration {
  return { up: (db) => up(db, dialect) };
}

const WIS = 'workflow_invocation_step';
const ICJJA = 'implicit_collection_jobs_job_association';
/** SQLite has one writer at a time: a single counter stripe. */
const SQLITE_STRIPE = '0';
/** Group key of a failed job whose exit code is unknown. */
const NO_EXIT_CODE = -1;

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const pg = dialect === 'postgres';
  const run = (text: string) => sql.raw(text).execute(db);

  await db.schema.alterTable('job').addColumn('cpu_seconds', pg ? 'double precision' : 'real').execute();
  await db.schema.alterTable('job').addColumn('max_rss_bytes', 'bigint').execute();
  await db.schema.alterTable('job').addColumn('stderr_tail', 'text').execute();
  for (const table of [WIS, ICJJA]) {
    await db.schema.alterTable(table).addColumn('task_state', 'text', (c) => c.notNull().defaultTo('none')).execute();
    await db.schema.alterTable(table).addColumn('failure_group_id', 'bigint').execute();
    await db.schema.alterTable(table).addColumn('wall_ms', 'bigint').execute();
    await db.schema.alterTable(table).addColumn('max_rss_bytes', 'bigint').execute();
  }

  await db.schema
    .createTable('task_state_count')
    .addColumn('workflow_invocation_id', 'bigint', (c) => c.notNull().references('workflow_invocation.id').onDelete('cascade'))
    .addColumn('workflow_step_id', 'bigint', (c) => c.notNull())
    .addColumn('task_state', 'text', (c) => c.notNull())
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_state_count_pk', ['workflow_invocation_id', 'workflow_step_id', 'task_state', 'stripe'])
    .execute();
  await db.schema
    .createTable('task_failure_group')
    .addColumn('id', pg ? 'bigserial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('workflow_invocation_id', 'bigint', (c) => c.notNull().references('workflow_invocation.id').onDelete('cascade'))
    .addColumn('workflow_step_id', 'bigint', (c) => c.notNull())
    .addColumn('exit_code', 'integer', (c) => c.notNull())
    .addColumn('stderr_tail', 'text', (c) => c.notNull())
    .addUniqueConstraint('task_failure_group_uq', ['workflow_invocation_id', 'workflow_step_id', 'exit_code', 'stderr_tail'])
    .execute();
  // A run's failure groups in the order they first appeared, a page at a time.
  await db.schema.createIndex('task_failure_group_run_idx').on('task_failure_group').columns(['workflow_invocation_id', 'id']).execute();
  await db.schema
    .createTable('task_failure_count')
    .addColumn('failure_group_id', 'bigint', (c) => c.notNull().references('task_failure_group.id').onDelete('cascade'))
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_failure_count_pk', ['failure_group_id', 'stripe'])
    .execute();
  await db.schema
    .createTable('task_step_usage')
    .addColumn('workflow_invocation_id', 'bigint', (c) => c.notNull().references('workflow_invocation.id').onDelete('cascade'))
    .addColumn('workflow_step_id', 'bigint', (c) => c.notNull())
    .addColumn('stripe', 'integer', (c) => c.notNull())
    .addColumn('jobs', 'bigint', (c) => c.notNull())
    .addColumn('cpu_seconds', pg ? 'double precision' : 'real', (c) => c.notNull())
    .addColumn('wall_ms', 'bigint', (c) => c.notNull())
    .addColumn('max_rss_bytes', 'bigint')
    .addPrimaryKeyConstraint('task_step_usage_pk', ['workflow_invocation_id', 'workflow_step_id', 'stripe'])
    .execute();

  // The triggers find a job's task rows by job id.
  await db.schema.createIndex('wis_job_idx').on(WIS).column('job_id').execute();
  await db.schema.createIndex('icjja_job_idx').on(ICJJA).column('job_id').execute();
  // Filtered and sorted listings: one range per (run, value) in task order, per branch.
  const stepOrder = ['collection_job_count', 'sort_key'];
  const jobOrder = ['step_sort_key', 'order_index'];
  for (const [column, name] of [
    ['task_state', 'state'],
    ['failure_group_id', 'failure'],
  ] as const) {
    await db.schema.createIndex(`wis_${name}_task_order_idx`).on(WIS).columns(['workflow_invocation_id', column, ...stepOrder]).execute();
    await db.schema.createIndex(`icjja_${name}_task_order_idx`).on(ICJJA).columns(['workflow_invocation_id', column, ...jobOrder]).execute();
  }
  for (const column of ['wall_ms', 'max_rss_bytes'] as const) {
    await db.schema
      .createIndex(`wis_${column}_order_idx`)
      .on(WIS)
      .columns(['workflow_invocation_id', 'collection_job_count', column, 'sort_key'])
      .execute();
    await db.schema.createIndex(`icjja_${column}_order_idx`).on(ICJJA).columns(['workflow_invocation_id', column, ...jobOrder]).execute();
  }

  await backfill(db, dialect);
  if (pg) {
    await createPostgresTriggers(db);
    await run('analyze');
  } else {
    for (const trigger of sqliteTriggers()) await createSqliteTrigger(db, trigger);
  }
}

interface Trigger {
  readonly name: string;
  /** e.g. `after update of state on job` */
  readonly event: string;
  readonly when?: string;
  readonly body: readonly string[];
}

async function createSqliteTrigger(db: Kysely<unknown>, trigger: Trigger): Promise<void> {
  const when = trigger.when === undefined ? '' : ` when (${trigger.when})`;
  await sql
    .raw(`create trigger ${trigger.name} ${trigger.event} for each row${when} begin ${trigger.body.map((s) => `${s};`).join(' ')} end`)
    .execute(db);
}

/** What a task row copies from its job, each value an SQL expression over `job(column)`. */
interface JobValues {
  readonly state: string;
  readonly exitCode: string;
  readonly stderrTail: string;
  readonly wallMs: string;
  readonly maxRss: string;
}

/** Milliseconds between two ISO 8601 texts. */
function wallMsSql(dialect: Dialect, start: string, end: string): string {
  return dialect === 'postgres'
    ? `(extract(epoch from ((${end})::timestamptz - (${start})::timestamptz)) * 1000)::bigint`
    : `cast(round((julianday(${end}) - julianday(${start})) * 86400000) as integer)`;
}

function jobValues(dialect: Dialect, job: (column: string) => string): JobValues {
  return {
    state: `coalesce(${job('state')}, 'none')`,
    exitCode: `coalesce(${job('exit_code')}, ${NO_EXIT_CODE})`,
    stderrTail: `coalesce(${job('stderr_tail')}, '')`,
    wallMs: wallMsSql(dialect, job('start_time'), job('end_time')),
    maxRss: job('max_rss_bytes'),
  };
}

/**
 * Statements that bring the step-level and collection task rows matching the conditions up to date
 * with their job: ensure the failure group of a failed job, then set the copies.
 */
function refreshStatements(job: JobValues, stepRows: RowCondition | undefined, jobRows: RowCondition | undefined): string[] {
  const statements: string[] = [];
  const groupOf = (run: string, step: string) =>
    `(select g.id from task_failure_group g where g.workflow_invocation_id = ${run} and g.workflow_step_id = ${step}` +
    ` and g.exit_code = ${job.exitCode} and g.stderr_tail = ${job.stderrTail})`;
  const ensureGroup = (select: string) =>
    `insert into task_failure_group (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) ${select} and ${job.state} = 'error'` +
    ` on conflict (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) do nothing`;
  const copies = (run: string, step: string) =>
    `task_state = ${job.state}, wall_ms = ${job.wallMs}, max_rss_bytes = ${job.maxRss}, ` +
    `failure_group_id = case when ${job.state} = 'error' then ${groupOf(run, step)} end`;
  if (stepRows !== undefined) {
    statements.push(
      ensureGroup(`select s.workflow_invocation_id, s.workflow_step_id, ${job.exitCode}, ${job.stderrTail} from ${WIS} s where ${stepRows('s')}`),
      `update ${WIS} set ${copies(`${WIS}.workflow_invocation_id`, `${WIS}.workflow_step_id`)} where ${stepRows(WIS)}`,
    );
  }
  if (jobRows !== undefined) {
    const stepOfRow = (a: string) => `(select s.workflow_step_id from ${WIS} s where s.id = ${a}.workflow_invocation_step_id)`;
    statements.push(
      ensureGroup(`select a.workflow_invocation_id, ${stepOfRow('a')}, ${job.exitCode}, ${job.stderrTail} from ${ICJJA} a where ${jobRows('a')}`),
      `update ${ICJJA} set ${copies(`${ICJJA}.workflow_invocation_id`, stepOfRow(ICJJA))} where ${jobRows(ICJJA)}`,
    );
  }
  return statements;
}

/** A condition selecting task rows, over the given table alias. */
type RowCondition = (alias: string) => string;

/** SQLite's row-level triggers (it has no statement-level ones); PostgreSQL's are in 0006-task-states-postgres.ts. */
function sqliteTriggers(): Trigger[] {
  const changed = (...columns: string[]) => columns.map((c) => `old.${c} is distinct from new.${c}`).join(' or ');
  const fromNewJob = jobValues('sqlite', (column) => `new.${column}`);
  const fromLinkedJob = jobValues('sqlite', (column) => `(select j.${column} from job j where j.id = new.job_id)`);
  const count = (run: string, step: string, state: string, delta: number, where: string) =>
    `insert into task_state_count (workflow_invocation_id, workflow_step_id, task_state, stripe, n) ` +
    `select ${run}, ${step}, ${state}, ${SQLITE_STRIPE}, ${delta} where ${where} ` +
    `on conflict (workflow_invocation_id, workflow_step_id, task_state, stripe) do update set n = task_state_count.n + excluded.n`;
  const countFailure = (group: string, delta: number, where: string) =>
    `insert into task_failure_count (failure_group_id, stripe, n) select ${group}, ${SQLITE_STRIPE}, ${delta} where ${where} and ${group} is not null ` +
    `on conflict (failure_group_id, stripe) do update set n = task_failure_count.n + excluded.n`;
  const stepOfNewJob = `(select s.workflow_step_id from ${WIS} s where s.id = new.workflow_invocation_step_id)`;
  const stepOfOldJob = `(select s.workflow_step_id from ${WIS} s where s.id = old.workflow_invocation_step_id)`;
  const listedStep = (row: 'old' | 'new') => `${row}.collection_job_count = 0`;
  const usageRow = (select: string) =>
    `insert into task_step_usage (workflow_invocation_id, workflow_step_id, stripe, jobs, cpu_seconds, wall_ms, max_rss_bytes) ${select} ` +
    `on conflict (workflow_invocation_id, workflow_step_id, stripe) do update set jobs = task_step_usage.jobs + 1, ` +
    `cpu_seconds = task_step_usage.cpu_seconds + excluded.cpu_seconds, wall_ms = task_step_usage.wall_ms + excluded.wall_ms, ` +
    `max_rss_bytes = max(coalesce(task_step_usage.max_rss_bytes, 0), coalesce(excluded.max_rss_bytes, 0))`;
  const usageValues = `${SQLITE_STRIPE}, 1, new.cpu_seconds, coalesce(${fromNewJob.wallMs}, 0), new.max_rss_bytes`;
  return [
    {
      name: 'job_refresh_tasks',
      event: 'after update of state, exit_code, stderr_tail, start_time, end_time, max_rss_bytes on job',
      when: changed('state', 'exit_code', 'stderr_tail', 'start_time', 'end_time', 'max_rss_bytes'),
      body: refreshStatements(fromNewJob, (t) => `${t}.job_id = new.id`, (t) => `${t}.job_id = new.id`),
    },
    {
      name: 'job_step_usage',
      event: 'after update of cpu_seconds on job',
      when: 'old.cpu_seconds is null and new.cpu_seconds is not null',
      body: [
        usageRow(
          `select s.workflow_invocation_id, s.workflow_step_id, ${usageValues} from ${WIS} s where s.job_id = new.id ` +
            `union all select a.workflow_invocation_id, (select s.workflow_step_id from ${WIS} s where s.id = a.workflow_invocation_step_id), ${usageValues} ` +
            `from ${ICJJA} a where a.job_id = new.id`,
        ),
      ],
    },
    {
      name: 'wis_link_job',
      event: `after update of job_id on ${WIS}`,
      when: `new.job_id is not null and (${changed('job_id')})`,
      body: refreshStatements(fromLinkedJob, (t) => `${t}.id = new.id`, undefined),
    },
    {
      name: 'wis_count_insert',
      event: `after insert on ${WIS}`,
      body: [
        count('new.workflow_invocation_id', 'new.workflow_step_id', 'new.task_state', 1, listedStep('new')),
        countFailure('new.failure_group_id', 1, listedStep('new')),
        ...refreshStatements(fromLinkedJob, (t) => `${t}.id = new.id and new.job_id is not null`, undefined),
      ],
    },
    {
      name: 'wis_count_update',
      event: `after update of task_state, collection_job_count, failure_group_id on ${WIS}`,
      when: changed('task_state', 'failure_group_id') + ` or (old.collection_job_count = 0) <> (new.collection_job_count = 0)`,
      body: [
        count('old.workflow_invocation_id', 'old.workflow_step_id', 'old.task_state', -1, listedStep('old')),
        count('new.workflow_invocation_id', 'new.workflow_step_id', 'new.task_state', 1, listedStep('new')),
        countFailure('old.failure_group_id', -1, listedStep('old')),
        countFailure('new.failure_group_id', 1, listedStep('new')),
      ],
    },
    {
      name: 'icjja_count_insert',
      event: `after insert on ${ICJJA}`,
      body: [
        count('new.workflow_invocation_id', stepOfNewJob, 'new.task_state', 1, 'true'),
        countFailure('new.failure_group_id', 1, 'true'),
        ...refreshStatements(fromLinkedJob, undefined, (t) => `${t}.id = new.id`),
      ],
    },
    {
      name: 'icjja_link_job',
      event: `after update of job_id on ${ICJJA}`,
      when: changed('job_id'),
      body: refreshStatements(fromLinkedJob, undefined, (t) => `${t}.id = new.id`),
    },
    {
      name: 'icjja_count_update',
      event: `after update of task_state, failure_group_id on ${ICJJA}`,
      when: changed('task_state', 'failure_group_id'),
      body: [
        count('old.workflow_invocation_id', stepOfOldJob, 'old.task_state', -1, 'true'),
        count('new.workflow_invocation_id', stepOfNewJob, 'new.task_state', 1, 'true'),
        countFailure('old.failure_group_id', -1, 'true'),
        countFailure('new.failure_group_id', 1, 'true'),
      ],
    },
  ];
}

/** Copies, groups and counters for the rows written before this migration, in a few set-wise statements. */
async function backfill(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const linked = jobValues(dialect, (column) => `(select j.${column} from job j where j.id = %ROW%.job_id)`);
  for (const [table, stepOf] of [
    [WIS, (t: string) => `${t}.workflow_step_id`],
    [ICJJA, (t: string) => `(select s.workflow_step_id from ${WIS} s where s.id = ${t}.workflow_invocation_step_id)`],
  ] as const) {
    const values = Object.fromEntries(Object.entries(linked).map(([k, v]) => [k, v.replaceAll('%ROW%', 'r')])) as unknown as JobValues;
    await sql
      .raw(
        `insert into task_failure_group (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) ` +
          `select distinct r.workflow_invocation_id, ${stepOf('r')}, ${values.exitCode}, ${values.stderrTail} from ${table} r ` +
          `where r.job_id is not null and ${values.state} = 'error' ` +
          `on conflict (workflow_invocation_id, workflow_step_id, exit_code, stderr_tail) do nothing`,
      )
      .execute(db);
    const own = Object.fromEntries(Object.entries(linked).map(([k, v]) => [k, v.replaceAll('%ROW%', table)])) as unknown as JobValues;
    await sql
      .raw(
        `update ${table} set task_state = ${own.state}, wall_ms = ${own.wallMs}, max_rss_bytes = ${own.maxRss}, ` +
          `failure_group_id = case when ${own.state} = 'error' then (select g.id from task_failure_group g ` +
          `where g.workflow_invocation_id = ${table}.workflow_invocation_id and g.workflow_step_id = ${stepOf(table)} ` +
          `and g.exit_code = ${own.exitCode} and g.stderr_tail = ${own.stderrTail}) end where job_id is not null`,
      )
      .execute(db);
  }
  const tasks =
    `select workflow_invocation_id, workflow_step_id, task_state, failure_group_id from ${WIS} where collection_job_count = 0 ` +
    `union all select a.workflow_invocation_id, s.workflow_step_id, a.task_state, a.failure_group_id from ${ICJJA} a ` +
    `join ${WIS} s on s.id = a.workflow_invocation_step_id`;
  await sql
    .raw(
      `insert into task_state_count (workflow_invocation_id, workflow_step_id, task_state, stripe, n) ` +
        `select workflow_invocation_id, workflow_step_id, task_state, 0, count(*) from (${tasks}) t group by workflow_invocation_id, workflow_step_id, task_state`,
    )
    .execute(db);
  await sql
    .raw(
      `insert into task_failure_count (failure_group_id, stripe, n) select failure_group_id, 0, count(*) from (${tasks}) t ` +
        `where failure_group_id is not null group by failure_group_id`,
    )
    .execute(db);
}
