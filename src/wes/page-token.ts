/**
 * Opaque, tamper-evident page tokens. A token is base64url(JSON payload) "." base64url(HMAC):
 * the payload names the listing it belongs to (e.g. "tasks:<run id>") and the keyset position
 * after which the next page starts. Tokens never carry an OFFSET.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BadRequestError } from '../errors.js';

interface Payload {
  readonly v: 1;
  readonly s: string;
  readonly k: readonly unknown[];
}

export class PageTokenCodec {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new RangeError('page token secret must have at least 32 bytes');
    this.#secret = secret;
  }

  encode(scope: string, key: readonly unknown[]): string {
    const payload: Payload = { v: 1, s: scope, k: key };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.#sign(body)}`;
  }

  /**
   * The key of a token issued by `encode` for this scope. Throws BadRequestError for a token
   * that is malformed, was altered, or belongs to another listing (another run, another user).
   */
  decode(token: string, scope: string): readonly unknown[] {
    const [body, signature, ...rest] = token.split('.');
    if (body === undefined || signature === undefined || rest.length > 0 || body === '' || signature === '') {
      throw new BadRequestError('page_token is malformed');
    }
    const expected = Buffer.from(this.#sign(body), 'base64url');
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new BadRequestError('page_token is invalid: it was altered or not issued by this server');
    }
    const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    if (!isPayload(payload)) throw new BadRequestError('page_token is malformed');
    if (payload.s !== scope) throw new BadRequestError('page_token belongs to a different listing');
    return payload.k;
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#secret).update(body).digest('base64url');
  }
}

function isPayload(value: unknown): value is Payload {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.v === 1 && typeof v.s === 'string' && Array.isArray(v.k);
}
