/**
 * A Kysely dialect for SQLite whose statements run on a thread of their own (sqlite-worker.ts),
 * so the server's event loop never waits on SQLite: not on its CPU, not on a busy lock, and not
 * on the kernel's writeback of the pages it writes. Kysely's own SqliteDialect runs
 * better-sqlite3 on the calling thread. Writes have one connection, as there: a mutex hands it
 * to one statement or one whole transaction at a time. A statement outside a transaction that
 * only reads goes to the thread's second, reader connection without taking the mutex: it sees
 * what was last committed and does not queue behind the writer's transactions, whose every
 * statement waits for a turn of the server's busy event loop (a task page during a scatter did).
 */
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
import { SqliteError, SqliteThread, type StatementReply } from './sqlite-thread.js';

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

/**
 * What may go to the reader: a statement that starts as a query does. A `with` that writes is
 * refused there (`not-read-only`, decided by SQLite's own parse) and runs on the writer.
 */
const READS = /^\s*(select|with)\b/i;

class SqliteWorkerDriver implements Driver {
  readonly #thread: SqliteThread;
  readonly #mutex = new Mutex();

  constructor(path: string) {
    this.#thread = new SqliteThread(path);
  }

  init(): Promise<void> {
    return this.#thread.open();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new SqliteConnection(this.#thread, this.#mutex);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SqliteConnection).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SqliteConnection).end('commit');
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SqliteConnection).end('rollback');
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    await this.#thread.close();
  }
}

class SqliteConnection implements DatabaseConnection {
  readonly #thread: SqliteThread;
  readonly #mutex: Mutex;
  #inTransaction = false;

  constructor(thread: SqliteThread, mutex: Mutex) {
    this.#thread = thread;
    this.#mutex = mutex;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#inTransaction) return resultOf<R>(await this.#thread.run(query, 'writer'));
    if (READS.test(query.sql)) {
      const reply = await this.#thread.run(query, 'reader');
      if (reply.kind !== 'not-read-only') return resultOf<R>(reply);
    }
    await this.#mutex.lock();
    try {
      return resultOf<R>(await this.#thread.run(query, 'writer'));
    } finally {
      this.#mutex.unlock();
    }
  }

  async begin(): Promise<void> {
    await this.#mutex.lock();
    this.#inTransaction = true;
    try {
      resultOf(await this.#thread.run(CompiledQuery.raw('begin'), 'writer'));
    } catch (error) {
      this.#release();
      throw error;
    }
  }

  /** A commit that fails leaves the transaction open and held: Kysely rolls it back next. */
  async end(statement: 'commit' | 'rollback'): Promise<void> {
    try {
      resultOf(await this.#thread.run(CompiledQuery.raw(statement), 'writer'));
    } catch (error) {
      if (statement === 'rollback') this.#release();
      throw error;
    }
    this.#release();
  }

  #release(): void {
    this.#inTransaction = false;
    this.#mutex.unlock();
  }

  async *streamQuery(): AsyncIterableIterator<QueryResult<never>> {
    throw new Error('the SQLite store does not stream query results');
  }
}

function resultOf<R>(reply: StatementReply): QueryResult<R> {
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
