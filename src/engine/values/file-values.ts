/**
 * CWL File and Directory values on the local file system: resolving `location`/`path`
 * against a base, deriving basename/nameroot/nameext/dirname, size and sha1 checksum,
 * `loadContents` (at most 64 KiB, as the spec requires) and directory listings. Everything
 * read here is first checked by the run's PathPolicy, and only regular files and
 * directories are read (a FIFO a job planted would block the engine).
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CwlObject, CwlValue } from './cwl-value.js';
import type { PathPolicy } from './path-policy.js';
import { isFileLike, isObject } from './value-types.js';

const maxContents = 64 * 1024;
const DIGEST_CHUNK = 64 * 1024;

/** A file a job needs to read (loadContents) is missing or too large. */
export class FileContentsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileContentsError';
  }
}

/** Resolves a location (a URL, possibly relative) against a base URL. */
export function resolveLocation(location: string, baseUrl: string): string {
  return new URL(location, baseUrl).href;
}

/** Resolves a file system path (taken literally, not URL-decoded) against a base URL. */
function resolvePath(path: string, baseUrl: string): string {
  if (!baseUrl.startsWith('file:')) return new URL(encodeURI(path), baseUrl).href;
  const base = fileURLToPath(baseUrl);
  return pathToFileURL(resolve(baseUrl.endsWith('/') ? base : dirname(base), path)).href;
}

export function localPath(location: string): string | undefined {
  return location.startsWith('file:') ? fileURLToPath(location) : undefined;
}

/** Splits a basename into nameroot and nameext the way CWL does ("a.tar.gz" → "a.tar", ".gz"). */
export function nameParts(name: string): { nameroot: string; nameext: string } {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? { nameroot: name.slice(0, dot), nameext: name.slice(dot) } : { nameroot: name, nameext: '' };
}

/**
 * Gives every File/Directory in `value` an absolute `location` and, for local ones, `path`,
 * `basename`, `dirname`, and for Files `nameroot`/`nameext`. Literals (no location) keep none.
 */
export function resolveFileValues(value: CwlValue, baseUrl: string): CwlValue {
  if (Array.isArray(value)) return value.map((v) => resolveFileValues(v, baseUrl));
  if (!isFileLike(value)) {
    if (!isObject(value)) return value;
    const out: CwlObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveFileValues(v, baseUrl);
    return out;
  }
  const out: CwlObject = { ...value };
  const location =
    typeof value.location === 'string'
      ? resolveLocation(value.location, baseUrl)
      : typeof value.path === 'string'
        ? resolvePath(value.path, baseUrl)
        : undefined;
  if (location !== undefined) {
    out.location = location;
    const path = localPath(out.location);
    if (path !== undefined) {
      out.path = path;
      if (typeof value.basename !== 'string') out.basename = basename(path);
      out.dirname = dirname(path);
    }
  }
  if (value.class === 'File' && typeof out.basename === 'string') Object.assign(out, nameParts(out.basename));
  if (Array.isArray(value.secondaryFiles)) out.secondaryFiles = value.secondaryFiles.map((v) => resolveFileValues(v, baseUrl));
  if (Array.isArray(value.listing)) out.listing = value.listing.map((v) => resolveFileValues(v, baseUrl));
  return out;
}

/** The sha1 of a regular file the policy allows; `what` names it in messages. */
export async function sha1Of(policy: PathPolicy, path: string, what: string): Promise<string> {
  return (await digestOf(await policy.readable(path, what), what)).checksum;
}

/**
 * Size and sha1 of the regular file at a real path, both from one descriptor read in a loop:
 * a read stream's machinery cost more of the event loop than the hashing of a small output.
 */
async function digestOf(real: string, what: string): Promise<{ size: number; checksum: string }> {
  const { handle, size } = await openRealFile(real, what);
  try {
    return await digest(handle, size);
  } finally {
    await handle.close();
  }
}

/**
 * Reads to the end. A short read at or past the size the file had when opened is its end (a
 * regular file's read is only short there), which saves the read that would return nothing.
 */
async function digest(handle: FileHandle, statedSize: number): Promise<{ size: number; checksum: string }> {
  const hash = createHash('sha1');
  // Sized for the file as it was opened; a file still growing takes more reads.
  const buffer = Buffer.allocUnsafe(Math.min(statedSize + 1, DIGEST_CHUNK));
  let size = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    hash.update(buffer.subarray(0, bytesRead));
    size += bytesRead;
    if (bytesRead === 0 || (bytesRead < buffer.length && size >= statedSize)) break;
  }
  return { size, checksum: `sha1$${hash.digest('hex')}` };
}

async function openRegularFile(policy: PathPolicy, path: string, what: string) {
  return (await openRealFile(await policy.readable(path, what), what)).handle;
}

async function openRealFile(real: string, what: string) {
  const { handle, info } = await openReal(real);
  if (!info.isFile()) {
    await handle.close();
    throw new FileContentsError(`${what} is not a regular file`);
  }
  return { handle, size: info.size };
}

/** Never through a link, and never a FIFO's blocking open; what it opened, from the descriptor. */
async function openReal(real: string): Promise<{ handle: FileHandle; info: Stats }> {
  const handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    return { handle, info: await handle.stat() };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Up to 64 KiB of the file as text; a larger file is an error for loadContents. */
export async function readContents(policy: PathPolicy, path: string, what: string): Promise<string> {
  const handle = await openRegularFile(policy, path, what).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === undefined) throw error;
    throw new FileContentsError(`loadContents: cannot open ${what}: ${(error as NodeJS.ErrnoException).code}`);
  });
  try {
    const buffer = Buffer.alloc(maxContents + 1);
    const { bytesRead } = await handle.read(buffer, 0, maxContents + 1, 0);
    if (bytesRead > maxContents) throw new FileContentsError(`loadContents: ${what} is larger than 64 KiB`);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** A File or Directory value describing a local path (with size+checksum for files). */
export async function describePath(policy: PathPolicy, path: string, withChecksum: boolean, what: string): Promise<CwlObject> {
  const real = await policy.readable(path, what);
  const name = basename(path);
  const common = { location: pathToFileURL(path).href, path, basename: name, dirname: dirname(path) };
  const notFileOrDirectory = (): FileContentsError => new FileContentsError(`${what} is not a regular file or directory`);
  if (!withChecksum) {
    const info = await stat(real);
    if (info.isDirectory()) return { class: 'Directory', ...common };
    if (!info.isFile()) throw notFileOrDirectory();
    return { class: 'File', ...common, ...nameParts(name), size: info.size };
  }
  // What it is, its size and its checksum, all from one descriptor (a socket cannot be opened: ENXIO).
  const { handle, info } = await openReal(real).catch((error: unknown) => {
    throw (error as NodeJS.ErrnoException).code === 'ENXIO' ? notFileOrDirectory() : error;
  });
  try {
    if (info.isDirectory()) return { class: 'Directory', ...common };
    if (!info.isFile()) throw notFileOrDirectory();
    // The size the checksum was taken of, should the file change in between.
    const { size, checksum } = await digest(handle, info.size);
    return { class: 'File', ...common, ...nameParts(name), size, checksum };
  } finally {
    await handle.close();
  }
}

/** The directory's entries as File/Directory values; `deep` lists subdirectories too. */
export async function listDirectory(
  policy: PathPolicy,
  path: string,
  deep: boolean,
  withChecksum: boolean,
  what: string,
): Promise<CwlObject[]> {
  const names = (await readdir(await policy.readable(path, what))).sort();
  const entries: CwlObject[] = [];
  for (const name of names) {
    const entryWhat = `${what}/${name}`;
    const entry = await describePath(policy, join(path, name), withChecksum, entryWhat);
    if (entry.class === 'Directory' && deep) entry.listing = await listDirectory(policy, join(path, name), true, withChecksum, entryWhat);
    entries.push(entry);
  }
  return entries;
}
