/**
 * Opens the database the configuration names: PostgreSQL when a postgres:// URL is given,
 * else an embedded SQLite file. The only module that touches better-sqlite3 or pg, and the
 * one that applies migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type LogEvent } from 'kysely';
import type { Database } from './database.js';
import type { Dialect } from './dialect.js';
import { migrationProvider } from './migrations/index.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
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
    const database = new SQLite(options.sqlitePath);
    database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    database.pragma('synchronous = NORMAL');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database }), log });
  }
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${String(error)}`, { cause: error });
  }
  return { db, dialect, close: () => db.destroy() };
}
