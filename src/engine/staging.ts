/**
 * Puts a job's input Files and Directories where its process can see them under their CWL
 * basenames: each top-level input file gets its own numbered directory in the job's staging
 * area (its secondaryFiles beside it), as a symlink to the original, or written out when it
 * is a literal (`contents`, or a Directory `listing` without location). Writable entries are
 * copied. Values come back with `path`/`dirname` pointing at the staged copies.
 */
import { copyFile, cp, mkdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { CwlObject, CwlValue } from './cwl-value.js';
import { localPath, nameParts } from './file-values.js';
import { isFileLike, isObject } from './value-types.js';

export class StagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StagingError';
  }
}

/** Stages every File/Directory found in `value` below `stageDir`. */
export async function stageValues(value: CwlValue, stageDir: string): Promise<CwlValue> {
  let counter = 0;
  const walk = async (v: CwlValue): Promise<CwlValue> => {
    if (Array.isArray(v)) {
      const out: CwlValue[] = [];
      for (const item of v) out.push(await walk(item));
      return out;
    }
    if (isFileLike(v)) {
      const dir = join(stageDir, String(counter++));
      await mkdir(dir, { recursive: true });
      return stageAt(v, join(dir, basenameOf(v)), false);
    }
    if (isObject(v)) {
      const out: CwlObject = {};
      for (const [k, item] of Object.entries(v)) out[k] = await walk(item);
      return out;
    }
    return v;
  };
  return walk(value);
}

export function basenameOf(v: CwlObject): string {
  if (typeof v.basename === 'string' && v.basename !== '') return v.basename;
  const location = typeof v.location === 'string' ? v.location : typeof v.path === 'string' ? v.path : '';
  const name = decodeURIComponent(location.slice(location.lastIndexOf('/') + 1));
  return name !== '' ? name : randomUUID();
}

/**
 * Materializes one File/Directory value at `target`, a File's secondaryFiles beside it;
 * returns the value describing the staged copy.
 */
export async function stageAt(v: CwlObject, target: string, writable: boolean): Promise<CwlObject> {
  const staged = await stageOne(v, target, writable);
  if (Array.isArray(v.secondaryFiles)) {
    const secondary: CwlValue[] = [];
    for (const s of v.secondaryFiles) {
      if (isFileLike(s)) secondary.push(await stageAt(s, join(dirname(target), basenameOf(s)), writable));
    }
    staged.secondaryFiles = secondary;
  }
  return staged;
}

async function stageOne(v: CwlObject, target: string, writable: boolean): Promise<CwlObject> {
  const source = typeof v.location === 'string' ? localPath(v.location) : typeof v.path === 'string' ? v.path : undefined;
  await mkdir(dirname(target), { recursive: true });
  const out: CwlObject = { ...v, path: target, basename: target.slice(target.lastIndexOf('/') + 1), dirname: dirname(target) };
  if (v.class === 'File') Object.assign(out, nameParts(String(out.basename)));
  if (source !== undefined) {
    try {
      if (!writable) await symlink(source, target);
      else if (v.class === 'Directory') await cp(source, target, { recursive: true, dereference: true });
      else await copyFile(source, target);
    } catch (error) {
      // A job reattached after a restart keeps its directory, and so its links.
      if (writable || (await readlink(target).catch(() => undefined)) !== source) {
        throw new StagingError(`cannot stage ${source}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (v.class === 'Directory' && Array.isArray(v.listing)) out.listing = relocateListing(v.listing, source, target);
    return out;
  }
  out.location = pathToFileURL(target).href;
  if (v.class === 'File') {
    if (typeof v.contents !== 'string') throw new StagingError(`File ${String(v.basename)} has neither location nor contents`);
    await writeFile(target, v.contents);
    return out;
  }
  await mkdir(target, { recursive: true });
  const listing: CwlValue[] = [];
  for (const entry of Array.isArray(v.listing) ? v.listing : []) {
    if (isFileLike(entry)) listing.push(await stageAt(entry, join(target, basenameOf(entry)), writable));
  }
  out.listing = listing;
  return out;
}

/** Rewrites paths of a symlinked directory's listing to be under the staged name. */
function relocateListing(listing: CwlValue[], from: string, to: string): CwlValue[] {
  return listing.map((entry) => {
    if (!isFileLike(entry)) return entry;
    const path = typeof entry.path === 'string' ? entry.path : undefined;
    const out: CwlObject = { ...entry };
    if (path !== undefined && path.startsWith(`${from}/`)) {
      out.path = to + path.slice(from.length);
      out.dirname = dirname(String(out.path));
    }
    if (Array.isArray(entry.listing)) out.listing = relocateListing(entry.listing, from, to);
    return out;
  });
}
