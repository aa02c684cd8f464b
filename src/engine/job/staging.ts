/**
 * Puts a job's input Files and Directories where its process can see them under their CWL
 * basenames: each top-level input file gets its own numbered directory in the job's staging
 * area (its secondaryFiles beside it), as a symlink to the original, or written out when it
 * is a literal (`contents`, or a Directory `listing` without location). Writable entries are
 * copied. Values come back with `path`/`dirname` pointing at the staged copies. Every source
 * is read and every target written through the run's PathPolicy.
 */
import { chmod, copyFile, cp, lstat, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import { localPath, nameParts } from '../values/file-values.js';
import { checkBasename, type PathPolicy } from '../values/path-policy.js';
import { isFileLike, isObject } from '../values/value-types.js';

export class StagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StagingError';
  }
}

/** Where staged entries go: the policy, and the directory every target must stay inside. */
export interface StagingArea {
  readonly policy: PathPolicy;
  readonly within: string;
}

/** Stages every File/Directory found in `value` below `stageDir`. */
export async function stageValues(value: CwlValue, stageDir: string, policy: PathPolicy): Promise<CwlValue> {
  let counter = 0;
  const area: StagingArea = { policy, within: stageDir };
  const walk = async (v: CwlValue): Promise<CwlValue> => {
    if (Array.isArray(v)) {
      const out: CwlValue[] = [];
      for (const item of v) out.push(await walk(item));
      return out;
    }
    if (isFileLike(v)) {
      const dir = join(stageDir, String(counter++));
      await mkdir(dir, { recursive: true });
      return stageAt(area, v, join(dir, basenameOf(v)), false);
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

/** The value's basename (given, or the last segment of its location); always a single path segment. */
export function basenameOf(v: CwlObject): string {
  if (typeof v.basename === 'string' && v.basename !== '') return checkBasename(v.basename, nameOf(v));
  const location = typeof v.location === 'string' ? v.location : typeof v.path === 'string' ? v.path : '';
  const name = decodeURIComponent(location.slice(location.lastIndexOf('/') + 1));
  return name !== '' ? checkBasename(name, nameOf(v)) : randomUUID();
}

/** How messages name a File/Directory value: what the user gave (location, path or basename). */
export function nameOf(v: CwlObject): string {
  const given = [v.location, v.path, v.basename].find((x): x is string => typeof x === 'string');
  return `${String(v.class)} ${given === undefined ? '(literal)' : JSON.stringify(given)}`;
}

/**
 * Materializes one File/Directory value at `target`, a File's secondaryFiles beside it;
 * returns the value describing the staged copy.
 */
export async function stageAt(area: StagingArea, v: CwlObject, target: string, writable: boolean): Promise<CwlObject> {
  const staged = await stageOne(area, v, target, writable);
  if (Array.isArray(v.secondaryFiles)) {
    const secondary: CwlValue[] = [];
    for (const s of v.secondaryFiles) {
      if (isFileLike(s)) secondary.push(await stageAt(area, s, join(dirname(target), basenameOf(s)), writable));
    }
    staged.secondaryFiles = secondary;
  }
  return staged;
}

async function stageOne(area: StagingArea, v: CwlObject, target: string, writable: boolean): Promise<CwlObject> {
  const { policy } = area;
  const what = nameOf(v);
  const source = typeof v.location === 'string' ? localPath(v.location) : typeof v.path === 'string' ? v.path : undefined;
  const real =
    source === undefined
      ? undefined
      : await policy.readable(source, what).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code === undefined) throw error;
          throw new StagingError(`cannot stage ${what}: ${(error as NodeJS.ErrnoException).code}`);
        });
  // A job reattached after a restart keeps its directory: the very link staging made is kept.
  const kept = real !== undefined && !writable && (await readlink(target).catch(() => undefined)) === real;
  if (!kept) await policy.writable(target, what, area.within);
  await mkdir(dirname(target), { recursive: true });
  const out: CwlObject = { ...v, path: target, basename: target.slice(target.lastIndexOf('/') + 1), dirname: dirname(target) };
  if (v.class === 'File') Object.assign(out, nameParts(String(out.basename)));
  if (source !== undefined && real !== undefined) {
    try {
      if (!writable && !kept) await symlink(real, target);
      else if (v.class === 'Directory') {
        // Links inside the directory are followed: each must lead somewhere the run may read.
        await cp(real, target, { recursive: true, dereference: true, filter: async (entry) => Boolean(await policy.readable(entry, what)) });
        await addOwnerWrite(target);
      } else {
        await copyFile(real, target);
        await addOwnerWrite(target);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === undefined) throw error;
      throw new StagingError(`cannot stage ${what}: ${(error as NodeJS.ErrnoException).code}`);
    }
    if (v.class === 'Directory' && Array.isArray(v.listing)) out.listing = relocateListing(v.listing, source, target);
    return out;
  }
  out.location = pathToFileURL(target).href;
  if (v.class === 'File') {
    if (typeof v.contents !== 'string') throw new StagingError(`${what} has neither location nor contents`);
    await writeFile(target, v.contents);
    return out;
  }
  await mkdir(target, { recursive: true });
  const listing: CwlValue[] = [];
  for (const entry of Array.isArray(v.listing) ? v.listing : []) {
    if (isFileLike(entry)) listing.push(await stageAt({ policy, within: target }, entry, join(target, basenameOf(entry)), writable));
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

/**
 * A writable copy keeps its source's mode, which may be read-only (a shared input directory);
 * the job owns the copy, so it gets write permission, as cwltool gives it. A confined job has
 * no CAP_DAC_OVERRIDE, so without this even a root server's job could not write it.
 */
async function addOwnerWrite(path: string): Promise<void> {
  const stat = await lstat(path);
  if (stat.isSymbolicLink()) return;
  await chmod(path, stat.mode | (stat.isDirectory() ? 0o300 : 0o200));
  if (stat.isDirectory()) for (const entry of await readdir(path)) await addOwnerWrite(join(path, entry));
}
