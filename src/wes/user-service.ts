/**
 * Users and API keys. A key is "wes_" + 32 random bytes (base64url); only its sha256 and its
 * first 12 characters (the public prefix that names it to an operator, 48 of its 256 random
 * bits) are stored, so a key is shown once, when created. A revoked key or a disabled user
 * stops authenticating with the next request: every request looks its key up.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import {
  countUsers,
  findApiKeysByIdOrPrefix,
  findUserById,
  findUserByKeyHash,
  findUserByName,
  insertApiKey,
  insertUser,
  listApiKeys,
  markApiKeyRevoked,
  markUserDisabled,
} from '../store/queries/users.js';
import type { UserRow } from '../store/tables/user.table.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';

export const LOCAL_USER = 'local';
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function newApiKey(): string {
  return `wes_${randomBytes(32).toString('base64url')}`;
}

const KEY_PREFIX_LENGTH = 'wes_'.length + 8;

/** What an operator sees of a key: never the key or its hash. */
export interface ApiKeyInfo {
  readonly id: number;
  /** The key's first characters, or undefined for a key created before prefixes were kept. */
  readonly prefix: string | undefined;
  readonly created: string;
  readonly revoked: string | undefined;
}

export class UserService {
  readonly #db: Kysely<Database>;
  readonly #refuseNewUsers: string | undefined;

  /**
   * `refuseNewUsers`: when set, only the first user may be created (jobs run unconfined, see
   * executors/sandbox/job-sandbox.ts); adding another throws ForbiddenError with this reason.
   */
  constructor(db: Kysely<Database>, options: { refuseNewUsers?: string } = {}) {
    this.#db = db;
    this.#refuseNewUsers = options.refuseNewUsers;
  }

  /** The user a bearer key belongs to, or undefined. 1 query. */
  async authenticate(key: string): Promise<UserRow | undefined> {
    return findUserByKeyHash(this.#db, hashApiKey(key));
  }

  async addUser(name: string, isAdmin: boolean): Promise<UserRow> {
    if (!USER_NAME.test(name)) {
      throw new BadRequestError(`user name "${name}" must be 1-64 letters, digits, ".", "_", "@" or "-"`);
    }
    if ((await findUserByName(this.#db, name)) !== undefined) throw new BadRequestError(`user "${name}" already exists`);
    if (this.#refuseNewUsers !== undefined && (await countUsers(this.#db)) > 0) {
      throw new ForbiddenError(`cannot add user "${name}": ${this.#refuseNewUsers}`);
    }
    return insertUser(this.#db, name, isAdmin, new Date().toISOString());
  }

  /** Creates a key for `userName` and returns it; it cannot be read back later. */
  async createKey(userName: string): Promise<string> {
    const user = await this.#userNamed(userName);
    const key = newApiKey();
    await insertApiKey(this.#db, user.id, hashApiKey(key), key.slice(0, KEY_PREFIX_LENGTH), new Date().toISOString());
    return key;
  }

  /** The user's keys, oldest first. */
  async listKeys(userName: string): Promise<ApiKeyInfo[]> {
    const user = await this.#userNamed(userName);
    return (await listApiKeys(this.#db, user.id)).map((row) => ({
      id: row.id,
      prefix: row.key_prefix ?? undefined,
      created: row.create_time,
      revoked: row.revoked_at ?? undefined,
    }));
  }

  /**
   * Revokes the key with this id or prefix (as `listKeys` shows them). `changed` is false when
   * it was revoked already. Throws NotFoundError for no such key, BadRequestError when a prefix
   * names more than one.
   */
  async revokeKey(idOrPrefix: string): Promise<{ id: number; user: string; changed: boolean }> {
    const keys = await findApiKeysByIdOrPrefix(this.#db, idOrPrefix);
    if (keys.length === 0) throw new NotFoundError(`no API key with id or prefix "${idOrPrefix}"`);
    if (keys.length > 1) throw new BadRequestError(`prefix "${idOrPrefix}" names more than one key: revoke by id`);
    const [key] = keys;
    const changed = await markApiKeyRevoked(this.#db, key.id, new Date().toISOString());
    const owner = await findUserById(this.#db, key.user_id);
    return { id: key.id, user: owner?.name ?? String(key.user_id), changed };
  }

  /** Disables the user: none of its keys works any more; its runs are kept. */
  async disableUser(userName: string): Promise<{ changed: boolean }> {
    const user = await this.#userNamed(userName);
    return { changed: await markUserDisabled(this.#db, user.id, new Date().toISOString()) };
  }

  async #userNamed(userName: string): Promise<UserRow> {
    const user = await findUserByName(this.#db, userName);
    if (user === undefined) throw new NotFoundError(`user "${userName}" not found`);
    return user;
  }

  /**
   * First start: when there is no user yet, creates the admin user and returns its key (to
   * print once); undefined when users already exist.
   */
  async bootstrapAdmin(): Promise<string | undefined> {
    if ((await countUsers(this.#db)) > 0) return undefined;
    await this.addUser('admin', true);
    return this.createKey('admin');
  }

  /** The single user of a --no-auth server, created on first use. */
  async localUser(): Promise<UserRow> {
    return (await findUserByName(this.#db, LOCAL_USER)) ?? this.addUser(LOCAL_USER, true);
  }
}
