/** Runs (workflow invocations): creation, lookup by public id and owner, listing, state changes. */
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { NewWorkflowInvocation, WorkflowInvocationRow } from '../tables/invocation.table.js';
import type { RunState } from '../../run-state.js';
import { isPostgres } from '../dialect.js';

/** Inserts the run and one workflow_invocation_tag row per tag; 1 + (tags ? 1 : 0) queries, so pass a transaction. */
export async function insertRun(
  db: Kysely<Database>,
  run: NewWorkflowInvocation,
  tags: Readonly<Record<string, string>> = {},
): Promise<WorkflowInvocationRow> {
  const inserted = await db.insertInto('workflow_invocation').values(run).returningAll().executeTakeFirstOrThrow();
  const rows = Object.entries(tags).map(([name, value]) => ({
    workflow_invocation_id: inserted.id,
    user_id: inserted.user_id,
    name,
    value,
    create_time: inserted.create_time,
    uuid: inserted.uuid,
  }));
  if (rows.length > 0) await db.insertInto('workflow_invocation_tag').values(rows).execute();
  return inserted;
}

// workflow_invocation.uuid unique index; 1 query. Another user's run is simply not found.
export async function findRunForUser(
  db: Kysely<Database>,
  uuid: string,
  userId: number,
): Promise<WorkflowInvocationRow | undefined> {
  return db
    .selectFrom('workflow_invocation')
    .selectAll()
    .where('uuid', '=', uuid)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export async function findRunById(db: Kysely<Database>, id: number): Promise<WorkflowInvocationRow | undefined> {
  return db.selectFrom('workflow_invocation').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface RunCursor {
  readonly createTime: string;
  readonly uuid: string;
}

export type RunSummaryRow = Pick<WorkflowInvocationRow, 'uuid' | 'state' | 'start_time' | 'end_time' | 'request' | 'create_time'>;

/** What ListRuns may be narrowed to: one state, and tags that must all match. */
export interface RunFilter {
  readonly state?: RunState;
  readonly tags?: readonly { readonly name: string; readonly value: string }[];
}

/**
 * The caller's runs newest first from the cursor on, LIMIT n; 1 query. Each shape is one
 * backward range scan: no filter workflow_invocation_user_time_idx, a state
 * workflow_invocation_user_state_time_idx, tags workflow_invocation_tag_filter_idx on the
 * first tag (then the run by primary key; further tags and the state are checked per row
 * through the tag primary key, so a rare combination reads more rows but never sorts).
 */
export async function listRunsPage(
  db: Kysely<Database>,
  userId: number,
  before: RunCursor | undefined,
  limit: number,
  filter: RunFilter = {},
): Promise<RunSummaryRow[]> {
  const distinct = new Map((filter.tags ?? []).map((tag) => [JSON.stringify([tag.name, tag.value]), tag]));
  const [first, ...more] = distinct.values();
  if (first === undefined) {
    let query = db
      .selectFrom('workflow_invocation')
      .select(['uuid', 'state', 'start_time', 'end_time', 'request', 'create_time'])
      .where('user_id', '=', userId);
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (before !== undefined) {
      query = query.where((eb) => eb(eb.refTuple('create_time', 'uuid'), '<', eb.tuple(before.createTime, before.uuid)));
    }
    return query.orderBy('create_time', 'desc').orderBy('uuid', 'desc').limit(limit).execute();
  }
  const state = filter.state;
  let tagged = isPostgres(db)
    ? // LATERAL … LIMIT 1 keeps the run a per-row primary-key probe; as a plain join PostgreSQL
      // may hash the user's runs and sort, a cost that grows with the store rather than the page.
      db.selectFrom('workflow_invocation_tag as t').innerJoinLateral(
        (eb) => {
          let run = eb.selectFrom('workflow_invocation as r').selectAll().whereRef('r.id', '=', 't.workflow_invocation_id');
          if (state !== undefined) run = run.where('r.state', '=', state);
          return run.limit(1).as('r');
        },
        (join) => join.onTrue(),
      )
    : // SQLite has no hash joins: the run is a primary-key lookup per tag row.
      db.selectFrom('workflow_invocation_tag as t').innerJoin('workflow_invocation as r', (join) => {
        const on = join.onRef('r.id', '=', 't.workflow_invocation_id');
        return state === undefined ? on : on.on('r.state', '=', state);
      });
  tagged = tagged.where('t.user_id', '=', userId).where('t.name', '=', first.name).where('t.value', '=', first.value);
  if (before !== undefined) {
    tagged = tagged.where((eb) => eb(eb.refTuple('t.create_time', 't.uuid'), '<', eb.tuple(before.createTime, before.uuid)));
  }
  if (more.length > 0) {
    // The other tags: a count over the run's own tags (its primary key range). A scalar subquery
    // stays a per-row probe on PostgreSQL, where an EXISTS may become a hashed semi-join.
    tagged = tagged.where(
      (eb) =>
        eb
          .selectFrom('workflow_invocation_tag as o')
          .select((o) => o.fn.countAll<number>().as('n'))
          .whereRef('o.workflow_invocation_id', '=', 't.workflow_invocation_id')
          .where((o) => o.or(more.map((tag) => o.and([o('o.name', '=', tag.name), o('o.value', '=', tag.value)])))),
      '=',
      more.length,
    );
  }
  return tagged
    .select(['r.uuid', 'r.state', 'r.start_time', 'r.end_time', 'r.request', 'r.create_time'])
    .orderBy('t.create_time', 'desc')
    .orderBy('t.uuid', 'desc')
    .limit(limit)
    .execute();
}

// workflow_invocation_state_idx: index-only scan grouped by state; 1 query.
export async function countRunsByState(db: Kysely<Database>): Promise<Map<RunState, number>> {
  const rows = await db
    .selectFrom('workflow_invocation')
    .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}

/** Runs the engine must (re)start: queued, initializing, running or canceling. */
export async function listActiveRuns(db: Kysely<Database>, states: readonly RunState[]): Promise<WorkflowInvocationRow[]> {
  return db.selectFrom('workflow_invocation').selectAll().where('state', 'in', states).orderBy('id').execute();
}

/**
 * Moves a run to `to` only if it is in one of `from` (and, with `heldBy`, still leased to that
 * server); returns whether it moved. The condition in the UPDATE makes concurrent moves
 * (cancel vs. completion, a server that lost its lease vs. the one that took the run over)
 * race-free.
 */
export async function markRunState(
  db: Kysely<Database>,
  id: number,
  from: readonly RunState[],
  to: RunState,
  now: string,
  fields: { start_time?: string; end_time?: string; outputs?: string; message?: string; exit_code?: number } = {},
  heldBy?: number,
): Promise<boolean> {
  const result = await db
    .updateTable('workflow_invocation')
    .set({ state: to, update_time: now, ...fields })
    .where('id', '=', id)
    .where('state', 'in', from)
    .$if(heldBy !== undefined, (q) => q.where('server_id', '=', heldBy ?? null))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Records the workflow a run was loaded as (once, when it starts). */
export async function setRunWorkflow(db: Kysely<Database>, id: number, workflowId: number, now: string): Promise<void> {
  await db.updateTable('workflow_invocation').set({ workflow_id: workflowId, update_time: now }).where('id', '=', id).execute();
}
