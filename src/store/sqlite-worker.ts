/**
 * The SQLite thread: it owns the better-sqlite3 connection and runs each statement the store
 * sends, in the order sent. better-sqlite3 is synchronous, and on the server's event loop its
 * writes waited for the kernel's writeback of the WAL and database pages (the main thread seen
 * in D state up to 602 ms during a 100,000-job run); here only this thread waits. The store
 * has two: the writer, and a reader whose statements see the last committed state and never
 * wait behind the writer's (WAL lets readers and a writer run at once).
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { withStatementCache } from './statement-cache.js';
import type { SqliteReply, SqliteRequest, SqliteRole, SqliteWorkerData } from './sqlite-protocol.js';
import { errorCode, errorMessage } from '../errors.js';

if (parentPort === null) throw new Error('sqlite-worker.ts runs only as a worker thread');
const port = parentPort;
const reply = (message: SqliteReply): void => port.postMessage(message);

function open(path: string, role: SqliteRole): SQLite.Database | undefined {
  try {
    // The writer made the file and set its (persistent) WAL mode before any reader opens it.
    const database = new SQLite(path, { fileMustExist: role === 'reader' });
    if (role === 'writer') {
      database.pragma('journal_mode = WAL');
      database.pragma('foreign_keys = ON');
      database.pragma('synchronous = NORMAL');
    } else {
      database.pragma('query_only = ON');
    }
    database.pragma('busy_timeout = 5000');
    return database;
  } catch (error) {
    // Said in a message, not thrown: the thread then ends with nothing listening, after the message is out.
    reply({ kind: 'open-failed', message: errorMessage(error), code: errorCode(error) });
    return undefined;
  }
}

const { path, role } = workerData as SqliteWorkerData;
const database = open(path, role);
if (database !== undefined) serve(database, role);

function serve(database: SQLite.Database, role: SqliteRole): void {
  const statements = withStatementCache(database);
  port.on('message', (request: SqliteRequest) => {
    if (request.kind === 'close') {
      database.close();
      port.close();
      return;
    }
    const { id, sql, parameters } = request;
    try {
      const statement = statements.prepare(sql);
      if (role === 'reader' && !statement.readonly) {
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
