/**
 * Users and API keys. A key is "wes_" + 32 random bytes (base64url); only its sha256 is
 * stored, so a key is shown once, when created.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { countUsers, findUserByKeyHash, findUserByName, insertApiKey, insertUser } from '../store/queries/users.js';
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
    const user = await findUserByName(this.#db, userName);
    if (user === undefined) throw new NotFoundError(`user "${userName}" not found`);
    const key = newApiKey();
    await insertApiKey(this.#db, user.id, hashApiKey(key), new Date().toISOString());
    return key;
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
