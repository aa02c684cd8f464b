/**
 * Opaque, tamper-proof page tokens. A token is base64url(nonce . ciphertext . tag): the JSON
 * payload (the listing it belongs to, e.g. "tasks:<run id>", and the keyset position after
 * which the next page starts) encrypted with AES-256-GCM under a key derived from the stored
 * secret. The encryption hides the internal ids a payload holds; the tag authenticates it, so
 * an altered or foreign token is a 400. Tokens never carry an OFFSET.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { BadRequestError } from '../errors.js';

interface Payload {
  readonly v: 2;
  readonly s: string;
  readonly k: readonly unknown[];
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export class PageTokenCodec {
  readonly #key: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new RangeError('page token secret must have at least 32 bytes');
    // A key of its own, so the stored secret is never used directly by two schemes.
    this.#key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'wes-server page token v2', 32));
  }

  encode(scope: string, key: readonly unknown[]): string {
    const payload: Payload = { v: 2, s: scope, k: key };
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    const sealed = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return Buffer.concat([nonce, sealed, cipher.getAuthTag()]).toString('base64url');
  }

  /**
   * The key of a token issued by `encode` for this scope. Throws BadRequestError for a token
   * that is malformed (tokens of the earlier signed-JSON format included), was altered, or
   * belongs to another listing (another run, another user).
   */
  decode(token: string, scope: string): readonly unknown[] {
    const bytes = BASE64URL.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
    if (bytes.length <= NONCE_BYTES + TAG_BYTES) throw new BadRequestError('page_token is malformed');
    const nonce = bytes.subarray(0, NONCE_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
    decipher.setAuthTag(tag);
    let text: string;
    try {
      text = Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new BadRequestError('page_token is invalid: it was altered or not issued by this server');
    }
    const payload: unknown = JSON.parse(text);
    if (!isPayload(payload)) throw new BadRequestError('page_token is malformed');
    if (payload.s !== scope) throw new BadRequestError('page_token belongs to a different listing');
    return payload.k;
  }
}

function isPayload(value: unknown): value is Payload {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.v === 2 && typeof v.s === 'string' && Array.isArray(v.k);
}
