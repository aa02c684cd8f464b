/** Page sizes shared by every list endpoint. */
import { BadRequestError } from '../errors.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export interface PageRequest {
  readonly pageSize?: number;
  readonly pageToken?: string;
}

export function resolvePageSize(pageSize: number | undefined): number {
  if (pageSize === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new BadRequestError(`page_size must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`);
  }
  return pageSize;
}

/** The page token, treating the empty string (the spec's "no more pages") as absent. */
export function presentToken(pageToken: string | undefined): string | undefined {
  return pageToken === undefined || pageToken === '' ? undefined : pageToken;
}

/**
 * Splits the `pageSize + 1` rows of a look-ahead query into the page and the row its next
 * page starts after (undefined when this is the last page).
 */
export function splitLookAhead<T>(rows: readonly T[], pageSize: number): { items: T[]; continueAfter?: T } {
  const items = rows.slice(0, pageSize);
  return rows.length > pageSize ? { items, continueAfter: items[items.length - 1] } : { items };
}
