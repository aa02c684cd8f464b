/**
 * Opening files inside a run directory that a job may have tampered with (task logs, the
 * engine log, outputs): never through a link the job planted (`O_NOFOLLOW` where the file is
 * ours), never a FIFO or device (`O_NONBLOCK`, then `fstat`), and only when the file actually
 * opened (its /proc/self/fd path) lies inside the run directory.
 */
import { constants } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Whether `child` is `parent` or below it (both absolute, normalized). */
export function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

export interface RunFile {
  readonly path: string;
  readonly runDir: string;
  /** Output files may be links (staged inputs); logs are written by us and never are. */
  readonly followLinks: boolean;
}

export interface OpenedRunFile {
  readonly handle: FileHandle;
  readonly size: number;
}

/**
 * The file opened for reading; `undefined` when it does not exist (a log not written yet).
 * Throws RunFileRefused when it is a link (logs), not a regular file, or outside the run.
 */
export async function openRunFile(file: RunFile): Promise<OpenedRunFile | undefined> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (file.followLinks ? 0 : constants.O_NOFOLLOW);
  let handle: FileHandle;
  try {
    handle = await fsp.open(file.path, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EISDIR') throw new RunFileRefused();
    throw error;
  }
  try {
    const info = await handle.stat();
    const opened = await fsp.realpath(`/proc/self/fd/${handle.fd}`);
    if (!info.isFile() || !isInside(opened, await fsp.realpath(file.runDir))) throw new RunFileRefused();
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The file is not one the run may serve (a planted link, a FIFO, a file outside the run). */
export class RunFileRefused extends Error {
  constructor() {
    super('not a regular file of the run');
    this.name = 'RunFileRefused';
  }
}

/**
 * Appends to a log the server writes in a run directory; a link or non-file planted in its
 * place is left alone and nothing is written (the log is the run's own, so only it is lost).
 */
export async function appendRunLog(file: string, text: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await fsp.open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EISDIR' || code === 'ENXIO') return;
    throw error;
  }
  try {
    if ((await handle.stat()).isFile()) await handle.appendFile(text);
  } finally {
    await handle.close();
  }
}
