/**
 * The engine's one confinement check. Every path the engine reads, lists, copies, links or
 * writes on a user's behalf (staging, loadContents, loadListing, secondaryFiles, output
 * collection, cwl.output.json, stdin/stdout/stderr) goes through a PathPolicy:
 * - read: the path's real path (symlinks resolved) lies inside the run's directory or one of
 *   the operator's allowed input directories;
 * - write: the target stays lexically inside the directory it is written into, the deepest
 *   part of it that exists resolves inside that directory, and the target is not a link.
 * Basenames the user controls are single path segments. A violation is a PathEscapeError
 * (the job fails; the run ends EXECUTOR_ERROR) that names the user's value, never a real path.
 */
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { isInside } from '../../run-files.js';

/** A path a user's workflow gave that leads outside what its run may touch. */
export class PathEscapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathEscapeError';
  }
}

export class PathPolicy {
  /** The run's directory, as given (messages) and resolved (checks). */
  readonly runDir: string;
  readonly #realRunDir: string;
  readonly #readRoots: readonly string[];

  private constructor(runDir: string, realRunDir: string, readRoots: readonly string[]) {
    this.runDir = runDir;
    this.#realRunDir = realRunDir;
    this.#readRoots = readRoots;
  }

  /** `runDir` must exist; allowed input directories that do not exist allow nothing. */
  static async create(runDir: string, allowedInputDirs: readonly string[] = []): Promise<PathPolicy> {
    const realRunDir = await realpath(runDir);
    const allowed = await Promise.all(allowedInputDirs.map((dir) => realpath(dir).catch(() => undefined)));
    return new PathPolicy(resolve(runDir), realRunDir, [realRunDir, ...allowed.filter((d): d is string => d !== undefined)]);
  }

  /**
   * The real path of an existing file or directory the engine is about to read, list, copy
   * or link. File system errors (ENOENT) pass through for the caller's "missing" handling.
   */
  async readable(path: string, what: string): Promise<string> {
    const real = await realpath(path);
    if (!this.#readRoots.some((root) => isInside(real, root))) throw new PathEscapeError(`${what} points outside the run`);
    return real;
  }

  /**
   * Checks a target the engine is about to create or overwrite inside `within` (by default
   * the run's directory): call it before creating the target's missing parent directories.
   */
  async writable(target: string, what: string, within: string = this.runDir): Promise<void> {
    const absolute = resolve(target);
    const root = resolve(within);
    if (!isInside(absolute, root) || absolute === root) throw new PathEscapeError(`${what} leaves its directory`);
    let existing = absolute;
    for (;;) {
      try {
        const info = await lstat(existing);
        if (existing === absolute && info.isSymbolicLink()) throw new PathEscapeError(`${what} already exists as a link`);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        existing = dirname(existing);
      }
    }
    // What does not exist yet will be created as plain directories; what exists must really be
    // inside the run, and inside `within` when it is at or below it.
    const realExisting = await realpath(existing);
    // Writing into `within` itself (a job's output directory) resolves it once, not twice.
    const realRoot = (): Promise<string> => (existing === root ? Promise.resolve(realExisting) : realpath(root));
    const confined = isInside(realExisting, this.#realRunDir) && (!isInside(existing, root) || isInside(realExisting, await realRoot()));
    if (!confined) throw new PathEscapeError(`${what} points outside the run`);
  }
}

/** A user-given basename: one path segment, not `.`/`..`, no NUL. Returns it. */
export function checkBasename(name: string, what: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || basename(name) !== name) {
    throw new PathEscapeError(`${what}: basename ${JSON.stringify(name)} must be a single path segment`);
  }
  return name;
}
