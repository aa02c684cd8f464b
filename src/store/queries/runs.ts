/** Runs (workflow invocations): creation, lookup by public id and owner, listing, state changes. */
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { NewWorkflowInvocation, WorkflowInvocationRow } from '../tables/invocation.table.js';
import type { RunState } from '../../run-state.js';

export async function insertRun(db: Kysely<Database>, run: NewWorkflowInvocation): Promise<WorkflowInvocationRow> {
  return db.insertInto('workflow_invocation').values(run).returningAll().executeTakeFirstOrThrow();
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

// workflow_invocation_user_time_idx: backward range scan from the cursor, LIMIT n; 1 query.
export async function listRunsPage(
  db: Kysely<Database>,
  userId: number,
  before: RunCursor | undefined,
  limit: number,
): Promise<RunSummaryRow[]> {
  let query = db
    .selectFrom('workflow_invocation')
    .select(['uuid', 'state', 'start_time', 'end_time', 'request', 'create_time'])
    .where('user_id', '=', userId);
  if (before !== undefined) {
    query = query.where((eb) => eb(eb.refTuple('create_time', 'uuid'), '<', eb.tuple(before.createTime, before.uuid)));
  }
  return query.orderBy('create_time', 'desc').orderBy('uuid', 'desc').limit(limit).execute();
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
 * Moves a run to `to` only if it is in one of `from`; returns whether it moved. The condition
 * in the UPDATE makes concurrent moves (cancel vs. completion) race-free.
 */
export async function markRunState(
  db: Kysely<Database>,
  id: number,
  from: readonly RunState[],
  to: RunState,
  now: string,
  fields: { start_time?: string; end_time?: string; outputs?: string; message?: string } = {},
): Promise<boolean> {
  const result = await db
    .updateTable('workflow_invocation')
    .set({ state: to, update_time: now, ...fields })
    .where('id', '=', id)
    .where('state', 'in', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Records the workflow a run was loaded as (once, when it starts). */
export async function setRunWorkflow(db: Kysely<Database>, id: number, workflowId: number, now: string): Promise<void> {
  await db.updateTable('workflow_invocation').set({ workflow_id: workflowId, update_time: now }).where('id', '=', id).execute();
}
