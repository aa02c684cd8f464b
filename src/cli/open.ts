/** Opens the configured store for a CLI command. */
import path from 'node:path';
import type { Config } from '../config.js';
import { openStore, type Store } from '../store/connect.js';

export function sqlitePathOf(config: Config): string {
  return path.join(config.dataDir, 'wes.sqlite');
}

export async function openConfiguredStore(config: Config): Promise<Store> {
  return openStore({ databaseUrl: config.databaseUrl, sqlitePath: sqlitePathOf(config) });
}
