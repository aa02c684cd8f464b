import type { Generated, Selectable } from 'kysely';

/** One `wes serve` process (migration 0005); its runs are leased while `expires_at` lies ahead. */
export interface WesServerTable {
  id: Generated<number>;
  /** host/boot/pid/start of the process (executors/local/process-identity.ts processKey). */
  process_key: string;
  host: string;
  pid: number;
  start_time: string;
  /** Database time after which the server's runs may be claimed by others. */
  expires_at: string;
}
export type WesServerRow = Selectable<WesServerTable>;
