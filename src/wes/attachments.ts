/**
 * Receiving workflow_attachment files. Uploads go to a staging directory beside the run
 * directories and become the run's directory only once the run is recorded, so a rejected
 * or failed submission leaves nothing behind. Names may have sub-directories but can never
 * leave the run's directory.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { BadRequestError } from '../errors.js';
import { RUN_LAYOUT } from '../run-layout.js';

const MAX_NAME_BYTES = 255;
const MAX_PATH_BYTES = 1024;
/** Staging directories are `<runs dir>/.incoming-*`; a run directory is named by a uuid. */
const STAGING_PREFIX = '.incoming-';

/**
 * Removes the staging directories of uploads a stopped server left unfinished; call at start,
 * before the API accepts submissions. Returns how many there were.
 */
export async function removeInterruptedUploads(runsDir: string): Promise<number> {
  const entries = await fsp.readdir(runsDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const stale = entries.filter((name) => name.startsWith(STAGING_PREFIX));
  await Promise.all(stale.map((name) => fsp.rm(path.join(runsDir, name), { recursive: true, force: true })));
  return stale.length;
}

/** The relative path an attachment is stored at, or a BadRequestError naming the problem. */
export function safeAttachmentPath(filename: string): string {
  if (filename === '') throw new BadRequestError('workflow_attachment has no filename');
  if (filename.includes('\0')) throw new BadRequestError(`workflow_attachment filename "${filename}" contains a NUL byte`);
  if (filename.includes('\\')) {
    throw new BadRequestError(`workflow_attachment filename "${filename}" must use "/" between directories`);
  }
  if (filename.startsWith('/')) {
    throw new BadRequestError(`workflow_attachment filename "${filename}" must be relative, not absolute`);
  }
  const segments = filename.split('/');
  if (segments.some((s) => s === '..' || s === '.' || s === '')) {
    throw new BadRequestError(`workflow_attachment filename "${filename}" escapes the run directory or has empty parts`);
  }
  // File systems refuse longer names (ENAMETOOLONG); the whole path must stay well under PATH_MAX.
  if (segments.some((s) => Buffer.byteLength(s) > MAX_NAME_BYTES)) {
    throw new BadRequestError(`workflow_attachment filename "${filename}" has a part longer than ${MAX_NAME_BYTES} bytes`);
  }
  if (Buffer.byteLength(filename) > MAX_PATH_BYTES) {
    throw new BadRequestError(`workflow_attachment filename "${filename.slice(0, 64)}…" is longer than ${MAX_PATH_BYTES} bytes`);
  }
  return segments.join(path.sep);
}

export class AttachmentStaging {
  readonly #root: string;
  readonly #saved = new Set<string>();
  readonly #maxBytes: number;
  #bytes = 0;

  private constructor(root: string, maxBytes: number) {
    this.#root = root;
    this.#maxBytes = maxBytes;
  }

  /** A fresh staging directory under `runsDir`, taking at most `maxBytes` of files in all. */
  static async create(runsDir: string, maxBytes: number): Promise<AttachmentStaging> {
    await fsp.mkdir(runsDir, { recursive: true });
    const root = await fsp.mkdtemp(path.join(runsDir, STAGING_PREFIX));
    await fsp.mkdir(path.join(root, RUN_LAYOUT.attachments));
    return new AttachmentStaging(root, maxBytes);
  }

  /** Where attachments are while the submission is checked. */
  get attachmentsDir(): string {
    return path.join(this.#root, RUN_LAYOUT.attachments);
  }

  get fileCount(): number {
    return this.#saved.size;
  }

  async save(filename: string, content: Readable): Promise<void> {
    const relative = safeAttachmentPath(filename);
    if (this.#saved.has(relative)) throw new BadRequestError(`workflow_attachment "${filename}" is given twice`);
    const target = path.join(this.attachmentsDir, relative);
    // 'wx': a name that is also a directory of another attachment ("a" and "a/b") is refused, not merged.
    try {
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await pipeline(content, this.#meter(), fs.createWriteStream(target, { flags: 'wx' }));
    } catch (error) {
      if (isFsError(error, 'EEXIST') || isFsError(error, 'EISDIR') || isFsError(error, 'ENOTDIR')) {
        throw new BadRequestError(`workflow_attachment "${filename}" clashes with another attachment's path`);
      }
      if (isFsError(error, 'ENAMETOOLONG')) throw new BadRequestError(`workflow_attachment filename "${filename}" is too long`);
      throw error;
    }
    this.#saved.add(relative);
  }

  /** Counts the bytes of every file through it; fails the upload once they pass the maximum. */
  #meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.#bytes += chunk.length;
        if (this.#bytes > this.#maxBytes) {
          done(new BadRequestError(`the request's workflow_attachment files exceed ${this.#maxBytes} bytes in total`));
        } else {
          done(null, chunk);
        }
      },
    });
  }

  /** Moves the staged files to become `runDir` (which must not exist). */
  async commitTo(runDir: string): Promise<void> {
    await fsp.rename(this.#root, runDir);
  }

  async discard(): Promise<void> {
    await fsp.rm(this.#root, { recursive: true, force: true });
  }
}

function isFsError(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
