/**
 * The SQLite thread: it owns the better-sqlite3 connections and runs each statement the store
 * sends, in the order sent. better-sqlite3 is synchronous, and on the server's event loop its
 * writes waited for the kernel's writeback of the WAL and database pages (the main thread seen
 * in D state up to 602 ms during a 100,000-job run); here only this thread waits. It has two
 * connections: the writer, and a reader (opened with its first statement) whose statements see
 * the last committed state, so they need not wait for the writer's open transactions (WAL lets
 * a reader and a writer run at once).
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { withStatementCache, type StatementCache } from './statement-cache.js';
import type { SqliteConnectionRole, SqliteReply, SqliteRequest, SqliteWorkerData } from './sqlite-protocol.js';
import { errorCode, errorMessage } from '../errors.js';

if (parentPort === null) throw new Error('sqlite-worker.ts runs only as a worker thread');
const port = parentPort;
const reply = (message: SqliteReply): void => port.postMessage(message);

function openWriter(path: string): SQLite.Database | undefined {
  try {
    const database = new SQLite(path);
    database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    database.pragma('synchronous = NORMAL');
    // SQLite's own default page cache (2 MB); better-sqlite3 builds with 16 MB per connection,
    // which a 10,000-job run filled: the server's peak RSS was 17 MiB higher (README, "Engine
    // throughput"), and pages it misses come from the kernel's cache.
    database.pragma(`cache_size = ${WRITER_CACHE_KIB}`);
    return database;
  } catch (error) {
    // Said in a message, not thrown: the thread then ends with nothing listening, after the message is out.
    reply({ kind: 'open-failed', message: errorMessage(error), code: errorCode(error) });
    return undefined;
  }
}

/** After the writer, which made the file and set its (persistent) WAL mode. */
function openReader(path: string): SQLite.Database {
  const database = new SQLite(path, { fileMustExist: true });
  database.pragma('query_only = ON');
  // A task page reads a few index ranges; with the default 16 MB this cache cost 20 MiB more RSS.
  database.pragma(`cache_size = ${READER_CACHE_KIB}`);
  database.pragma('busy_timeout = 5000');
  return database;
}

/** Negative: KiB rather than pages. */
const WRITER_CACHE_KIB = -2000;
const READER_CACHE_KIB = -500;

const { path } = workerData as SqliteWorkerData;
const writer = openWriter(path);
if (writer !== undefined) serve(writer);

function serve(writer: SQLite.Database): void {
  const writerStatements = withStatementCache(writer);
  let reader: { readonly database: SQLite.Database; readonly statements: StatementCache } | undefined;
  const prepare = (connection: SqliteConnectionRole, sql: string): SQLite.Statement => {
    if (connection === 'writer') return writerStatements.prepare(sql);
    if (reader === undefined) {
      const database = openReader(path);
      reader = { database, statements: withStatementCache(database) };
    }
    return reader.statements.prepare(sql);
  };
  port.on('message', (request: SqliteRequest) => {
    if (request.kind === 'close') {
      reader?.database.close();
      writer.close();
      port.close();
      return;
    }
    const { id, connection, sql, parameters } = request;
    try {
      const statement = prepare(connection, sql);
      if (connection === 'reader' && !statement.readonly) {
        reply({ kind: 'not-read-only', id });
      } else if (statement.reader) {
        reply({ kind: 'rows', id, rows: statement.all(parameters) });
      } else {
        const { changes, lastInsertRowid } = statement.run(parameters);
        reply({ kind: 'changed', id, changes, lastInsertRowid });
      }
    } catch (error) {
      reply({ kind: 'failed', id, message: errorMessage(error), code: errorCode(error) });
    }
  });
  reply({ kind: 'opened' });
}
