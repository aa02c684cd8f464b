/**
 * better-sqlite3 with its prepared statements kept by SQL text. Kysely prepares every query
 * anew, and parsing a statement can cost more than running it: a profile of a 3,000-job run
 * put `prepare` at a third of the store's CPU, most of it the job writer's
 * UPDATE … FROM (VALUES …) (queries/jobs.ts pads those to a few sizes so their text repeats).
 * A statement still iterating (busy) is never handed out twice; a fresh one is prepared.
 */
import type Database from 'better-sqlite3';

/** Distinct statements kept; the least recently used goes first. */
const CAPACITY = 500;

export interface StatementCache {
  prepare(sql: string): Database.Statement;
}

export function withStatementCache(database: Database.Database, capacity: number = CAPACITY): StatementCache {
  const statements = new Map<string, Database.Statement>();
  return {
    prepare(sql: string): Database.Statement {
      const cached = statements.get(sql);
      if (cached !== undefined && !cached.busy) {
        // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql);
      if (cached === undefined) {
        if (statements.size >= capacity) statements.delete(statements.keys().next().value as string);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
