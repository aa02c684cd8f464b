import { PostgresAdapter, type Kysely } from 'kysely';

/** The two databases the store runs on. */
export type Dialect = 'sqlite' | 'postgres';

/** For the few queries whose best form differs between the two databases. */
export function isPostgres<DB>(db: Kysely<DB>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
