/**
 * Servers and the runs they drive (migration 0005). A run is leased to `server_id` while that
 * server's row lives: its `expires_at` lies ahead in database time, and a heartbeat pushes it
 * forward. A server that expired or is known gone is released: its row deleted and its active
 * runs' `server_id` cleared in one transaction, so that "claimable" is `server_id is null`, a
 * condition of the run row alone. That matters on PostgreSQL: a claim that meets a row another
 * claim just took re-checks only the row's own columns (READ COMMITTED re-evaluation), not a
 * join. Claims lock the runs they take (FOR UPDATE SKIP LOCKED), so two servers claiming at
 * once never take the same run.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../database.js';
import type { WorkflowInvocationRow } from '../tables/invocation.table.js';
import type { WesServerRow } from '../tables/server.table.js';
import type { RunState } from '../../run-state.js';
import { isPostgres } from '../dialect.js';

/** States of runs a server drives; a CANCELING run's driver finishes the cancel. */
export const LEASED_STATES: readonly RunState[] = ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'];

/**
 * The database's time `plusSeconds` ahead, as ISO 8601 UTC text like every stored time: one
 * clock for every server, whatever the hosts' clocks say. statement_timestamp(), not
 * clock_timestamp(): a volatile function cannot bound an index scan.
 */
function databaseTime(db: Kysely<Database>, plusSeconds: number): RawBuilder<string> {
  return isPostgres(db)
    ? sql<string>`to_char((statement_timestamp() at time zone 'UTC') + make_interval(secs => ${plusSeconds}), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`+${plusSeconds} seconds`})`;
}

export interface NewServer {
  readonly process_key: string;
  readonly host: string;
  readonly pid: number;
  readonly start_time: string;
}

/** A server row leased for `leaseSeconds`; 1 query. */
export async function insertServer(db: Kysely<Database>, server: NewServer, leaseSeconds: number): Promise<WesServerRow> {
  return db
    .insertInto('wes_server')
    .values({ ...server, expires_at: databaseTime(db, leaseSeconds) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * The heartbeat: pushes the server's lease `leaseSeconds` ahead unless it has already expired
 * or was removed (then others may have claimed its runs: false). Primary key; 1 query.
 */
export async function renewServer(db: Kysely<Database>, id: number, leaseSeconds: number): Promise<boolean> {
  const result = await db
    .updateTable('wes_server')
    .set({ expires_at: databaseTime(db, leaseSeconds) })
    .where('id', '=', id)
    .where('expires_at', '>', databaseTime(db, 0))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export type ServerWithLiveness = WesServerRow & { readonly live: number };

// wes_server_host_idx: range scan; 1 query. `live` is 1 while the lease has not expired.
export async function listServersOfHost(db: Kysely<Database>, host: string): Promise<ServerWithLiveness[]> {
  const now = databaseTime(db, 0);
  return db
    .selectFrom('wes_server')
    .selectAll()
    .select(sql<number>`case when expires_at > ${now} then 1 else 0 end`.as('live'))
    .where('host', '=', host)
    .execute();
}

// wes_server_expires_idx: range scan; 1 query.
export async function listLiveServers(db: Kysely<Database>): Promise<WesServerRow[]> {
  return db.selectFrom('wes_server').selectAll().where('expires_at', '>', databaseTime(db, 0)).execute();
}

/**
 * Forgets servers known to be gone (or stopping): their rows go and their active runs become
 * claimable. workflow_invocation_state_server_idx (a range per state) and the primary key;
 * 2 queries, in one transaction.
 */
export async function releaseServers(db: Kysely<Database>, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('wes_server').where('id', 'in', ids).execute();
    await clearRuns(trx, ids);
  });
}

/**
 * Releases every server whose lease expired. wes_server_expires_idx range, then as
 * releaseServers; 1 query when none expired, 2 in one transaction otherwise.
 */
export async function releaseExpiredServers(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const expired = await trx.deleteFrom('wes_server').where('expires_at', '<=', databaseTime(db, 0)).returning('id').execute();
    await clearRuns(trx, expired.map((s) => s.id));
  });
}

async function clearRuns(trx: Transaction<Database>, serverIds: readonly number[]): Promise<void> {
  if (serverIds.length === 0) return;
  await trx.updateTable('workflow_invocation').set({ server_id: null }).where('state', 'in', LEASED_STATES).where('server_id', 'in', serverIds).execute();
}

export type ClaimedRun = Pick<WorkflowInvocationRow, 'id' | 'user_id' | 'state'>;

/**
 * Takes up to `limit` active runs no server drives for server `serverId`, in one UPDATE whose
 * subquery skips runs another transaction has locked (PostgreSQL), so concurrent claims split
 * the runs; the outer `server_id is null` re-checks a row another claim took meanwhile.
 * workflow_invocation_state_server_idx: one range per state (server_id null), then the
 * claimed rows by primary key; 1 query. Not in id order (that would sort every candidate):
 * the caller orders the batch.
 */
export async function claimRuns(db: Kysely<Database>, serverId: number, limit: number): Promise<ClaimedRun[]> {
  const postgres = isPostgres(db);
  return db
    .updateTable('workflow_invocation')
    .set({ server_id: serverId })
    .where('id', 'in', (eb) => {
      const candidates = eb
        .selectFrom('workflow_invocation as r')
        .select('r.id')
        .where('r.state', 'in', LEASED_STATES)
        .where('r.server_id', 'is', null)
        .limit(limit);
      return postgres ? candidates.forUpdate().skipLocked() : candidates;
    })
    .where('server_id', 'is', null)
    .returning(['id', 'user_id', 'state'])
    .execute();
}

/** Takes one active run no server drives for server `serverId` (a submission it received). Primary key; 1 query. */
export async function claimRun(db: Kysely<Database>, serverId: number, runId: number): Promise<boolean> {
  const result = await db
    .updateTable('workflow_invocation')
    .set({ server_id: serverId })
    .where('id', '=', runId)
    .where('state', 'in', LEASED_STATES)
    .where('server_id', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

// workflow_invocation_state_server_idx: equality on (state, server); 1 query.
export async function listLeasedRunIds(db: Kysely<Database>, serverId: number, state: RunState): Promise<number[]> {
  const rows = await db.selectFrom('workflow_invocation').select('id').where('state', '=', state).where('server_id', '=', serverId).execute();
  return rows.map((r) => r.id);
}

/** The PostgreSQL channel on which a cancel is announced to the server driving the run. */
export const RUN_CANCEL_CHANNEL = 'wes_run_cancel';

/**
 * Tells the servers listening on RUN_CANCEL_CHANNEL that run `runId` went CANCELING, so its
 * driver stops it at once rather than at its next heartbeat. 1 query on PostgreSQL; none on
 * SQLite, whose one server is the one that took the cancel.
 */
export async function notifyRunCanceled(db: Kysely<Database>, runId: number): Promise<void> {
  if (isPostgres(db)) await sql`select pg_notify(${RUN_CANCEL_CHANNEL}, ${String(runId)})`.execute(db);
}
