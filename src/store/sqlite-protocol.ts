/** Messages between the store (sqlite-worker-dialect.ts) and its SQLite thread (sqlite-worker.ts). */

export interface SqliteWorkerData {
  /** The module the thread runs (module-entry.mjs loads it). */
  readonly module: string;
  readonly path: string;
}

/**
 * The thread's two connections. The writer owns the database (WAL mode, foreign keys) and runs
 * every statement it is sent; the reader runs only statements that write nothing, from the
 * last committed state, and answers `not-read-only` to any other.
 */
export type SqliteConnectionRole = 'writer' | 'reader';

export type SqliteRequest =
  | {
      readonly kind: 'query';
      readonly id: number;
      readonly connection: SqliteConnectionRole;
      readonly sql: string;
      readonly parameters: readonly unknown[];
    }
  /** Closes the database (checkpointing its WAL) and then the thread. */
  | { readonly kind: 'close' };

export type SqliteReply =
  | { readonly kind: 'opened' }
  /** The database could not be opened or configured; the thread then ends. */
  | { readonly kind: 'open-failed'; readonly message: string; readonly code?: string }
  | { readonly kind: 'rows'; readonly id: number; readonly rows: unknown[] }
  | { readonly kind: 'changed'; readonly id: number; readonly changes: number | bigint; readonly lastInsertRowid: number | bigint }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string; readonly code?: string }
  | { readonly kind: 'not-read-only'; readonly id: number };
