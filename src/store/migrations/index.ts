/** The ordered, frozen list of migrations, served from code so tsx and a build agree. */
import type { Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../dialect.js';
import { initialMigration } from './0001-initial.js';
import { operatorMigration } from './0002-operator.js';
import { runFiltersMigration } from './0004-run-filters.js';
import { executorJobIdMigration } from './0003-executor-job-id.js';
import { runLeasesMigration } from './0005-run-leases.js';
import { taskStatesMigration } from './0006-task-states.js';

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '0001-initial': initialMigration(dialect),
        '0002-operator': operatorMigration(),
        '0003-executor-job-id': executorJobIdMigration(),
        '0004-run-filters': runFiltersMigration(dialect),
        '0005-run-leases': runLeasesMigration(dialect),
        '0006-task-states': taskStatesMigration(dialect),
      };
    },
  };
}
