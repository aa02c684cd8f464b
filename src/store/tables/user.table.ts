import type { Generated, Insertable, Selectable } from 'kysely';

export interface UserTable {
  id: Generated<number>;
  name: string;
  /** 1 for an administrator, 0 otherwise (an integer so both databases agree). */
  is_admin: number;
  create_time: string;
}
export type UserRow = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;

export interface ApiKeyTable {
  id: Generated<number>;
  user_id: number;
  /** sha256 of the key, hex; the key itself is shown once and never stored. */
  key_hash: string;
  create_time: string;
}
export type NewApiKey = Insertable<ApiKeyTable>;

export interface ServerSettingTable {
  name: string;
  value: string;
}
