/**
 * A failure group's public handle: its id sealed like a page token (page-token.ts) under the
 * scope of its run, so no internal id leaves the server and a handle names a group of that
 * run only. A handle of another run, altered or invented, is a 400.
 */
import { BadRequestError } from '../errors.js';
import type { PageTokenCodec } from './page-token.js';

function scopeOf(runUuid: string): string {
  return `failure-group:${runUuid}`;
}

export function encodeFailureGroup(tokens: PageTokenCodec, runUuid: string, groupId: number): string {
  return tokens.encode(scopeOf(runUuid), [groupId]);
}

export function decodeFailureGroup(tokens: PageTokenCodec, runUuid: string, handle: string): number {
  let key: readonly unknown[];
  try {
    key = tokens.decode(handle, scopeOf(runUuid));
  } catch (error) {
    if (error instanceof BadRequestError) throw new BadRequestError('failure_group is not a failure group of this run', { cause: error });
    throw error;
  }
  const [id] = key;
  if (key.length !== 1 || typeof id !== 'number' || !Number.isSafeInteger(id)) throw new BadRequestError('failure_group is malformed');
  return id;
}
