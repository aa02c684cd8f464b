/**
 * A real app over a real store for one test: buildTestApp(t) opens a fresh database, counts
 * the queries the store issues, and closes everything in t.after.
 */
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { openStore, type Store } from '../../src/store/connect.js';
import { createServices, type Services } from '../../src/wes/services.js';
import type { RunLauncher } from '../../src/wes/run-service.js';
import { createTestDatabase, type TestDatabase } from './dialects.js';

export class QueryCounter {
  count = 0;
  readonly statements: string[] = [];
  record(sql: string): void {
    this.count++;
    this.statements.push(sql);
  }
  reset(): void {
    this.count = 0;
    this.statements.length = 0;
  }
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly services: Services;
  readonly queries: QueryCounter;
  readonly database: TestDatabase;
  /** Creates a user with a key; returns the Authorization header value and the user id. */
  addUser(name: string): Promise<{ auth: string; userId: number }>;
}

export async function buildTestApp(
  t: TestContext,
  options: { launcher?: RunLauncher; noAuth?: boolean; maxUploadBytes?: number } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const queries = new QueryCounter();
  const store = await openStore({
    databaseUrl: database.databaseUrl,
    sqlitePath: database.sqlitePath,
    onQuery: (sql) => queries.record(sql),
  });
  const services = await createServices(store, {
    dataDir: database.dataDir,
    noAuth: options.noAuth ?? false,
    remoteWorkflows: false,
    launcher: options.launcher,
  });
  const localCaller = options.noAuth === true ? { userId: (await services.users.localUser()).id } : undefined;
  const app = await buildApp({ services, localCaller, maxUploadBytes: options.maxUploadBytes });
  t.after(async () => {
    await app.close();
    await store.close();
    await database.drop();
  });
  return {
    app,
    store,
    services,
    queries,
    database,
    async addUser(name) {
      const user = await services.users.addUser(name, false);
      const key = await services.users.createKey(name);
      return { auth: `Bearer ${key}`, userId: user.id };
    },
  };
}
