/**
 * The SQLite thread: it owns the better-sqlite3 connection and runs each statement the store
 * sends, in the order sent. better-sqlite3 is synchronous, and on the server's event loop its
 * writes waited for the kernel's writeback of the WAL and database pages (the main thread seen
 * in D state up to 602 ms during a 100,000-job run); here only this thread waits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { withStatementCache } from './statement-cache.js';
import type { SqliteReply, SqliteRequest, SqliteWorkerData } from './sqlite-protocol.js';
import { errorCode, errorMessage } from '../errors.js';

if (parentPort === null) throw new Error('sqlite-worker.ts runs only as a worker thread');
const port = parentPort;
const reply = (message: SqliteReply): void => port.postMessage(message);

function open(path: string): SQLite.Database | undefined {
  try {
    const database = new SQLite(path);
    database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    database.pragma('synchronous = NORMAL');
    return database;
  } catch (error) {
    // Said in a message, not thrown: the thread then ends with nothing listening, after the message is out.
    reply({ kind: 'open-failed', message: errorMessage(error), code: errorCode(error) });
    return undefined;
  }
}

const database = open((workerData as SqliteWorkerData).path);
if (database !== undefined) serve(database);

function serve(database: SQLite.Database): void {
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
      if (statement.reader) {
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
