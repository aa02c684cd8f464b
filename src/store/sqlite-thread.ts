/**
 * The SQLite thread (sqlite-worker.ts) as the store's side sees it: statements go out as
 * messages, each for one of its two connections, and their replies settle as the thread
 * answers. The thread keeps the process alive only while a statement is in flight, and once it
 * is gone every later statement fails with the reason.
 */
import { Worker } from 'node:worker_threads';
import type { CompiledQuery } from 'kysely';
import { siblingModule } from '../sibling-module.js';
import type { SqliteConnectionRole, SqliteReply, SqliteRequest, SqliteWorkerData } from './sqlite-protocol.js';
import { errorMessage } from '../errors.js';

const ENTRY = new URL('../module-entry.mjs', import.meta.url);
const MODULE = siblingModule(import.meta.url, './sqlite-worker');

/** An error SQLite reported, with better-sqlite3's code (SQLITE_BUSY, SQLITE_CONSTRAINT_UNIQUE, …). */
export class SqliteError extends Error {
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'SqliteError';
    this.code = code;
  }
}

export type StatementReply = Exclude<SqliteReply, { kind: 'opened' } | { kind: 'open-failed' }>;
type Settle = (reply: StatementReply) => void;

export class SqliteThread {
  readonly #path: string;
  readonly #pending = new Map<number, Settle>();
  #worker?: Worker;
  #nextId = 0;
  /** Why the thread is gone, once it is: every later statement fails with it. */
  #stopped?: Error;

  constructor(path: string) {
    this.#path = path;
  }

  /** Starts the thread and opens the database there. */
  open(): Promise<void> {
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

  async run(query: CompiledQuery, connection: SqliteConnectionRole): Promise<StatementReply> {
    const worker = this.#worker;
    if (worker === undefined) throw new Error('the SQLite store is not open');
    if (this.#stopped !== undefined) throw this.#stopped;
    const id = this.#nextId++;
    const request: SqliteRequest = { kind: 'query', id, connection, sql: query.sql, parameters: query.parameters };
    const replied = new Promise<StatementReply>((resolve) => this.#pending.set(id, resolve));
    try {
      worker.postMessage(request);
    } catch (error) {
      // A parameter that cannot be copied to the thread (a function, a symbol).
      this.#pending.delete(id);
      throw error;
    }
    if (this.#pending.size === 1) worker.ref();
    return replied;
  }

  /** Closes the database (checkpointing its WAL) and ends the thread. */
  async close(): Promise<void> {
    const worker = this.#worker;
    const running = worker !== undefined && this.#stopped === undefined;
    this.#stopped ??= new Error('the SQLite store is closed');
    if (!running) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ kind: 'close' } satisfies SqliteRequest);
    await exited;
  }
}
