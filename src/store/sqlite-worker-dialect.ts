/**
 * A Kysely dialect for SQLite whose statements run on a thread of their own (sqlite-worker.ts),
 * so the server's event loop never waits on SQLite: not on its CPU, not on a busy lock, and not
 * on the kernel's writeback of the pages it writes. Kysely's own SqliteDialect runs
 * better-sqlite3 on the calling thread. As there, SQLite has one connection: a mutex hands it to
 * one caller (a query, or a whole transaction) at a time, so one statement is in flight.
 * The thread keeps the process alive only while a statement is in flight.
 */
import { Worker } from 'node:worker_threads';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { siblingModule } from '../sibling-module.js';
import type { SqliteReply, SqliteRequest, SqliteWorkerData } from './sqlite-protocol.js';
import { errorMessage } from '../errors.js';

const ENTRY = new URL('../module-entry.mjs', import.meta.url);
const MODULE = siblingModule(import.meta.url, './sqlite-worker');

export class SqliteWorkerDialect implements Dialect {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  createDriver(): Driver {
    return new SqliteWorkerDriver(this.#path);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/** An error SQLite reported, with better-sqlite3's code (SQLITE_BUSY, SQLITE_CONSTRAINT_UNIQUE, …). */
export class SqliteError extends Error {
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'SqliteError';
    this.code = code;
  }
}

type Settle = (reply: SqliteReply) => void;

class SqliteWorkerDriver implements Driver {
  readonly #path: string;
  readonly #mutex = new Mutex();
  readonly #pending = new Map<number, Settle>();
  #worker?: Worker;
  #nextId = 0;
  /** Why the thread is gone, once it is: every later statement fails with it. */
  #stopped?: Error;

  constructor(path: string) {
    this.#path = path;
  }

  init(): Promise<void> {
    const workerData: SqliteWorkerData = { module: MODULE, path: this.#path };
    const worker = new Worker(ENTRY, { workerData });
    this.#worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: SqliteReply) => {
        if (reply.kind === 'opened') {
          worker.unref();
          resolve();
        } else if (reply.kind === 'open-failed') {
          reject(new SqliteError(`cannot open the SQLite database ${this.#path}: ${reply.message}`, reply.code));
        } else {
          const settle = this.#pending.get(reply.id);
          this.#pending.delete(reply.id);
          if (this.#pending.size === 0) worker.unref();
          settle?.(reply);
        }
      });
      const stop = (error: Error): void => {
        this.#stopped ??= error;
        reject(error);
        for (const settle of this.#pending.values()) settle({ kind: 'failed', id: -1, message: error.message });
        this.#pending.clear();
      };
      worker.on('error', (error: unknown) => stop(new Error(`the SQLite thread failed: ${errorMessage(error)}`, { cause: error })));
      worker.on('exit', (code) => stop(new Error(`the SQLite thread ended (exit code ${code})`)));
    });
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return { executeQuery: (query) => this.#execute(query), streamQuery: () => this.#noStreaming() };
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async destroy(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined || this.#stopped !== undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ kind: 'close' } satisfies SqliteRequest);
    await exited;
  }

  async #execute<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const worker = this.#worker;
    if (worker === undefined) throw new Error('the SQLite store is not open');
    if (this.#stopped !== undefined) throw this.#stopped;
    const id = this.#nextId++;
    const request: SqliteRequest = { kind: 'query', id, sql: query.sql, parameters: query.parameters };
    const replied = new Promise<SqliteReply>((resolve) => this.#pending.set(id, resolve));
    try {
      worker.postMessage(request);
    } catch (error) {
      // A parameter that cannot be copied to the thread (a function, a symbol).
      this.#pending.delete(id);
      throw error;
    }
    if (this.#pending.size === 1) worker.ref();
    const reply = await replied;
    switch (reply.kind) {
      case 'rows':
        return { rows: reply.rows as R[] };
      case 'changed':
        return { rows: [], numAffectedRows: BigInt(reply.changes), insertId: BigInt(reply.lastInsertRowid) };
      case 'failed':
        throw new SqliteError(reply.message, reply.code);
      default:
        throw new Error(`unexpected reply from the SQLite thread: ${reply.kind}`);
    }
  }

  async *#noStreaming(): AsyncIterableIterator<QueryResult<never>> {
    throw new Error('the SQLite store does not stream query results');
  }
}

/** One holder at a time, the rest in arrival order. */
class Mutex {
  #held = false;
  readonly #waiting: (() => void)[] = [];

  async lock(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  unlock(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#held = false;
    else next();
  }
}
