/**
 * Opens the database the configuration names: PostgreSQL when a postgres:// URL is given,
 * else an embedded SQLite file run on a thread of its own (sqlite-worker-dialect.ts). With that
 * thread, the only module that touches better-sqlite3 or pg, and the one that applies migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { Kysely, Migrator, PostgresDialect, type LogEvent } from 'kysely';
import { SqliteWorkerDialect } from './sqlite-worker-dialect.js';
import type { Database } from './database.js';
import type { Dialect } from './dialect.js';
import { migrationProvider } from './migrations/index.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /**
   * Calls `onPayload` with each notification sent on `channel` (PostgreSQL LISTEN/NOTIFY, on a
   * connection of its own that is opened again after it breaks; notifications sent while it is
   * down are lost). SQLite has a single server: nothing is ever sent. Resolves to a function
   * that stops listening; close() stops every listener too.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres://… or undefined for SQLite at sqlitePath. */
  readonly databaseUrl?: string;
  readonly sqlitePath: string;
  /** Sees every query the store executes (tests count them). */
  readonly onQuery?: (sql: string, parameters: readonly unknown[]) => void;
}

const PG_INT8_OID = 20;

export async function openStore(options: OpenOptions): Promise<Store> {
  const log = options.onQuery
    ? (event: LogEvent) => {
        if (event.level === 'query') options.onQuery?.(event.query.sql, event.query.parameters);
      }
    : undefined;
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (options.databaseUrl !== undefined) {
    dialect = 'postgres';
    // Loaded only here: a SQLite server does without its ~4 MiB.
    const { default: pg } = await import('pg');
    const types = {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        // bigint ids and counts fit in a double here; pg returns them as strings by default.
        oid === PG_INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    };
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, types });
    // An idle connection the server ends (a PostgreSQL restart, or a connection still closing
    // after close() when its database is dropped) makes the pool emit 'error'; unheard, that
    // event would crash the process. The pool drops the connection and opens a new one when needed.
    pool.on('error', () => undefined);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
  } else {
    dialect = 'sqlite';
    fs.mkdirSync(path.dirname(options.sqlitePath), { recursive: true });
    db = new Kysely<Database>({ dialect: new SqliteWorkerDialect(options.sqlitePath), log });
  }
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    // No migration ran: the database itself could not be reached or opened, and says why.
    if (failed === undefined && error instanceof Error) throw error;
    throw new Error(`database migration ${failed ?? 'unknown'} failed: ${String(error)}`, { cause: error });
  }
  const listeners = new Set<() => Promise<void>>();
  const databaseUrl = options.databaseUrl;
  return {
    db,
    dialect,
    async listen(channel, onPayload) {
      if (databaseUrl === undefined) return async () => undefined;
      const stop = await listenPostgres(databaseUrl, channel, onPayload);
      const unlisten = async () => {
        listeners.delete(unlisten);
        await stop();
      };
      listeners.add(unlisten);
      return unlisten;
    },
    async close() {
      await Promise.all([...listeners].map((unlisten) => unlisten()));
      await db.destroy();
    },
  };
}

const RELISTEN_MS = 1000;

/**
 * LISTEN on a dedicated client, opened again RELISTEN_MS after it breaks (a database restart)
 * until stopped. Resolves once the first attempt has listened or failed: listening is best
 * effort, callers have a slower path too. Channel names are our own constants.
 */
async function listenPostgres(databaseUrl: string, channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  const { default: pg } = await import('pg');
  const attempt = (): Promise<void> => {
    const next = new pg.Client({ connectionString: databaseUrl });
    let failed = false;
    // Unheard, 'error' would crash the process.
    const fail = (): void => {
      if (failed) return;
      failed = true;
      if (client === next) client = undefined;
      void next.end().catch(() => undefined);
      if (stopped) return;
      retry = setTimeout(() => void attempt(), RELISTEN_MS);
      retry.unref();
    };
    next.on('error', fail);
    next.on('end', fail);
    next.on('notification', (message) => {
      if (message.channel === channel && message.payload !== undefined) onPayload(message.payload);
    });
    return next
      .connect()
      .then(() => next.query(`listen ${channel}`))
      .then(() => {
        if (stopped) fail();
        else client = next;
      }, fail);
  };
  await attempt();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    const last = client;
    client = undefined;
    last?.removeAllListeners('end');
    await last?.end().catch(() => undefined);
  };
}
