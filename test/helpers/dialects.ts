/**
 * The database a test file (or a benchmark) runs against: SQLite in a temp dir, or a fresh
 * PostgreSQL database created for it and dropped after it. WES_TEST_DIALECT picks one (scripts/test.mjs runs
 * the suite once per dialect); WES_TEST_PG_URL points at a server where databases can be created.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Dialect } from '../../src/store/dialect.js';

export const DIALECT: Dialect = process.env.WES_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
const ADMIN_URL = process.env.WES_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly databaseUrl?: string;
  readonly sqlitePath: string;
  readonly dataDir: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(dialect: Dialect = DIALECT, adminUrl: string = ADMIN_URL): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-test-'));
  const sqlitePath = path.join(dataDir, 'wes.sqlite');
  if (dialect === 'sqlite') {
    return { sqlitePath, dataDir, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `wes_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    await admin.query(`create database ${name}`);
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    sqlitePath,
    dataDir,
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      // pg's Pool.end() resolves before its clients' backends have exited; forcing the drop
      // then terminates them, and a client still closing reports that as an uncaught error.
      for (let i = 0; i < 50; i++) {
        const { rows } = await client.query<{ n: string }>('select count(*) as n from pg_stat_activity where datname = $1', [name]);
        if (Number(rows[0].n) === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
