/**
 * This server's lease in the store: a `wes_server` row whose expiry the heartbeat pushes
 * `leaseSeconds` ahead (database time). While it holds, the runs naming this server are its
 * own; once it expires (a crash, a partition, a database down for too long) any server may
 * claim them.
 *
 * The holder gives up first: it counts its lease lost half a lease after the last heartbeat it
 * sent that the database accepted (its own monotonic clock; the database set the expiry no
 * earlier than that send), so its runs are stopped before any other server may claim them.
 *
 * A server of the same host that is gone (process-identity.ts) is forgotten at once, so a
 * restart after a crash takes its runs over without waiting for the expiry. On SQLite the lease
 * is exclusive: one server per data directory, and a second one refuses to start.
 */
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import type { WesServerRow } from '../store/tables/server.table.js';
import {
  insertServer,
  listLiveServers,
  listServersOfHost,
  releaseExpiredServers,
  releaseServers,
  renewServer,
} from '../store/queries/leases.js';
import { currentProcess, parseProcessKey, processGone, processKey } from '../executors/local/process-identity.js';

export interface ServerLeaseOptions {
  /** How long the lease lasts without a heartbeat (WES_LEASE_SECONDS). */
  readonly leaseSeconds: number;
  /** Refuse to start while another live server uses the store (SQLite: one server per data directory). */
  readonly exclusive: boolean;
}

/** Another server holds the store this one was asked to own alone. */
export class StoreInUseError extends Error {}

/** Whether a server row belongs to a process that still runs (or may: another host, before expiry). */
function alive(server: WesServerRow, liveByTime: boolean): boolean {
  const identity = parseProcessKey(server.process_key);
  const gone = identity === undefined ? undefined : processGone(identity);
  return gone === undefined ? liveByTime : !gone;
}

function describe(server: WesServerRow): string {
  return `pid ${server.pid} on ${server.host}, started ${server.start_time}`;
}

export class ServerLease {
  readonly #db: Kysely<Database>;
  readonly #leaseSeconds: number;
  #row: WesServerRow;
  /** performance.now() after which this server counts its lease lost. */
  #giveUpAt: number;

  private constructor(db: Kysely<Database>, leaseSeconds: number, row: WesServerRow, sentAt: number) {
    this.#db = db;
    this.#leaseSeconds = leaseSeconds;
    this.#row = row;
    this.#giveUpAt = sentAt + this.leaseMs / 2;
  }

  /**
   * Registers this process as a server. Exclusive: throws StoreInUseError naming the other
   * server when a live one uses the store, having changed nothing (the insert is rolled back).
   */
  static async register(db: Kysely<Database>, options: ServerLeaseOptions): Promise<ServerLease> {
    const sentAt = performance.now();
    const row = await db.transaction().execute(async (trx) => {
      // Inserting first takes SQLite's write lock, so two servers starting at once are serialized.
      const inserted = await insertServer(trx, ServerLease.#newServer(), options.leaseSeconds);
      if (options.exclusive) {
        const others = [...(await listServersOfHost(trx, inserted.host)), ...(await listLiveServers(trx))].filter((s) => s.id !== inserted.id);
        const live = others.find((s) => alive(s, 'live' in s ? s.live === 1 : true));
        if (live !== undefined) {
          throw new StoreInUseError(`another wes serve (${describe(live)}) is using this data directory; stop it first (on SQLite one server owns the data directory)`);
        }
      }
      return inserted;
    });
    const lease = new ServerLease(db, options.leaseSeconds, row, sentAt);
    await lease.forgetGoneServers();
    return lease;
  }

  static #newServer() {
    const self = currentProcess();
    return { process_key: processKey(self), host: self.host, pid: self.pid, start_time: new Date().toISOString() };
  }

  /** This server's row id: the `server_id` of the runs it drives. Changes when the lease is taken again. */
  get serverId(): number {
    return this.#row.id;
  }

  get leaseMs(): number {
    return this.#leaseSeconds * 1000;
  }

  /** Milliseconds until this server counts its lease lost, unless a heartbeat succeeds first. */
  get msLeft(): number {
    return this.#giveUpAt - performance.now();
  }

  /**
   * The heartbeat: false when the lease had already expired or was removed (others may have
   * taken its runs), and once the local deadline has passed. Throws when the database does not
   * answer (the lease then runs out unless a later heartbeat succeeds).
   */
  async renew(): Promise<boolean> {
    if (this.msLeft <= 0) return false;
    const sentAt = performance.now();
    if (!(await renewServer(this.#db, this.#row.id, this.#leaseSeconds))) return false;
    this.#giveUpAt = sentAt + this.leaseMs / 2;
    return true;
  }

  /**
   * Renews the lease, or takes a new one if it ran out: for a server that holds no run yet and
   * was busy starting (the sandbox and container checks may take longer than half a lease).
   */
  async refresh(): Promise<void> {
    if (!(await this.renew())) await this.renewLost();
  }

  /** A new lease after this one was lost (a new row: the old one's runs may be claimed by anyone). */
  async renewLost(): Promise<void> {
    const sentAt = performance.now();
    await releaseServers(this.#db, [this.#row.id]);
    this.#row = await insertServer(this.#db, ServerLease.#newServer(), this.#leaseSeconds);
    this.#giveUpAt = sentAt + this.leaseMs / 2;
  }

  /**
   * Releases the servers of this host that are gone and every expired server, so that their
   * runs can be claimed; 2 queries when there is nothing to release.
   */
  async forgetGoneServers(): Promise<void> {
    const ofHost = await listServersOfHost(this.#db, this.#row.host);
    const gone = ofHost.filter((s) => s.id !== this.#row.id && !alive(s, true));
    await releaseServers(this.#db, gone.map((s) => s.id));
    await releaseExpiredServers(this.#db);
  }

  /** The process keys of this host's servers whose lease holds (this one's included); 1 query. */
  async liveProcessKeys(): Promise<ReadonlySet<string>> {
    return new Set((await listServersOfHost(this.#db, this.#row.host)).filter((s) => s.live === 1).map((s) => s.process_key));
  }

  /** How many live servers besides this one use the store; 1 query. */
  async otherLiveServers(): Promise<number> {
    return (await listLiveServers(this.#db)).filter((s) => s.id !== this.#row.id).length;
  }

  /** Ends the lease (clean stop): this server's runs may be claimed at once. */
  async release(): Promise<void> {
    await releaseServers(this.#db, [this.#row.id]);
  }
}
