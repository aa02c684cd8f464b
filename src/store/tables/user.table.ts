import type { Generated, Insertable, Selectable } from 'kysely';

export interface UserTable {
  id: Generated<number>;
  name: string;
  /** 1 for an administrator, 0 otherwise (an integer so both databases agree). */
  is_admin: number;
  create_time: string;
  /** Set by `wes user disable`: none of the user's keys authenticates any more. */
  disabled_at: string | null;
}
export type UserRow = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;

export interface ApiKeyTable {
  id: Generated<number>;
  user_id: number;
  /** sha256 of the key, hex; the key itself is shown once and never stored. */
  key_hash: string;
  /** The key's first characters ("wes_" + 8), public: names the key in `wes key list`/`revoke`; null for old keys. */
  key_prefix: string | null;
  create_time: string;
  /** Set by `wes key revoke`: the key no longer authenticates. */
  revoked_at: string | null;
}
export type ApiKeyRow = Selectable<ApiKeyTable>;
export type NewApiKey = Insertable<ApiKeyTable>;

export interface ServerSettingTable {
  name: string;
  value: string;
}
