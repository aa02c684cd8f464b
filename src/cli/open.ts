/**
 * Opens the configured store for a CLI command (serve and the admin commands), after putting
 * the data directory's file policy in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { openStore, type Store } from '../store/connect.js';

export function sqlitePathOf(config: Config): string {
  return path.join(config.dataDir, 'wes.sqlite');
}

/**
 * The one place the file modes of server data are decided: everything this process creates
 * from here on (the SQLite file, run directories, logs, executor state, and the files of the
 * jobs it starts) is readable by the server's user only (files 0600, directories 0700), and so
 * is the data directory itself, which also covers files created before.
 */
export function restrictDataDir(dataDir: string): void {
  process.umask(0o077);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
}

export async function openConfiguredStore(config: Config): Promise<Store> {
  restrictDataDir(config.dataDir);
  return openStore({ databaseUrl: config.databaseUrl, sqlitePath: sqlitePathOf(config) });
}
