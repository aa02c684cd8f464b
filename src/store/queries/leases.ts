/**
 * Servers and the runs they drive (migration 0005). A run is leased to `server_id` while that
 * server's row exists and `expires_at` lies ahead in database time; a heartbeat pushes it
 * forward. Claims lock the runs they take (PostgreSQL: FOR UPDATE SKIP LOCKED), so two servers
 * claiming at once never take the same run.
 */
import { sql, type ExpressionBuilder, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../database.js';
import type { WorkflowInvocationRow, WorkflowInvocationTable } from '../tables/invocation.table.js';
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
  return timeAhead(isPostgres(db), plusSeconds);
}

function timeAhead(postgres: boolean, plusSeconds: number): RawBuilder<string> {
  return postgres
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

/** Forgets servers known to be gone; their runs become claimable. Primary key; 1 query. */
export async function deleteServers(db: Kysely<Database>, ids: readonly number[]): Promise<void> {
  if (ids.length > 0) await db.deleteFrom('wes_server').where('id', 'in', ids).execute();
}

// wes_server_expires_idx: range scan; 1 query.
export async function deleteExpiredServers(db: Kysely<Database>): Promise<void> {
  await db.deleteFrom('wes_server').where('expires_at', '<=', databaseTime(db, 0)).execute();
}

export type ClaimedRun = Pick<WorkflowInvocationRow, 'id' | 'user_id' | 'state'>;

/**
 * Takes up to `limit` active runs no live server drives for server `serverId`, in one UPDATE
 * whose subquery skips runs another transaction has locked (PostgreSQL), so concurrent claims
 * split the runs. workflow_invocation_state_server_idx: one range per state, a wes_server
 * primary-key probe per row, then the claimed rows by primary key; 1 query. Not in id order
 * (that would sort every candidate): the caller orders the batch.
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
        .where(noLiveServer(postgres))
        .limit(limit);
      return postgres ? candidates.forUpdate().skipLocked() : candidates;
    })
    .returning(['id', 'user_id', 'state'])
    .execute();
}

/**
 * Takes one active run for server `serverId` if no live server drives it (a submission the
 * server received). Primary key plus a probe of the current server; 1 query.
 */
export async function claimRun(db: Kysely<Database>, serverId: number, runId: number): Promise<boolean> {
  const result = await db
    .updateTable('workflow_invocation as r')
    .set({ server_id: serverId })
    .where('r.id', '=', runId)
    .where('r.state', 'in', LEASED_STATES)
    .where(noLiveServer(isPostgres(db)))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Run `r` has no live server: none named, or its row is gone or expired. */
function noLiveServer(postgres: boolean) {
  return (eb: ExpressionBuilder<Database & { r: WorkflowInvocationTable }, 'r'>) =>
    eb.not(
      eb.exists(
        eb.selectFrom('wes_server as s').select('s.id').whereRef('s.id', '=', 'r.server_id').where('s.expires_at', '>', timeAhead(postgres, 0)),
      ),
    );
}

// workflow_invocation_state_server_idx: equality on (state, server); 1 query.
export async function listLeasedRunIds(db: Kysely<Database>, serverId: number, state: RunState): Promise<number[]> {
  const rows = await db.selectFrom('workflow_invocation').select('id').where('state', '=', state).where('server_id', '=', serverId).execute();
  return rows.map((r) => r.id);
}
