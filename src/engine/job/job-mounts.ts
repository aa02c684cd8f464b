/**
 * What a confined job can see of the host's files: the one mount list every backend
 * (bubblewrap, a container engine, a batch script) turns into its own flags.
 *
 * The list is read off the job directory after staging, so it is exactly what staging put
 * there: the job's out/ (working directory, HOME) and tmp/ writable, its stage/ directory
 * read-only, and read-only the real file behind every symlink that staging or
 * InitialWorkDirRequirement placed in stage/ or out/ (an attachment, an earlier step's output,
 * a file of an operator-allowed input directory). Nothing else of the data directory is
 * listed, so another run, the SQLite file or the logs do not exist in the job's view.
 * Which inputs may be staged at all is the engine's path check, not this function's.
 */
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Confinement, Mount } from '../../executors/executor.js';

export interface JobDirectories {
  /** The job's working directory (runtime.outdir, HOME); writable. */
  readonly outdir: string;
  /** runtime.tmpdir (TMPDIR); writable. */
  readonly tmpdir: string;
  /** Where inputs were staged as symlinks; read-only. */
  readonly stageDir: string;
  /** dockerOutputDirectory: a container sees outdir a second time under this name. */
  readonly outputDirectory?: string;
  /** Where InitialWorkDir entries with absolute names were staged for a container (mounted by `extraMounts`). */
  readonly entriesRoot?: string;
}

export interface ConfinementOptions {
  /** NetworkAccess: the job may reach outside networks. */
  readonly network: boolean;
  /**
   * InplaceUpdateRequirement: InitialWorkDir entries in out/ are the originals themselves
   * (symlinks, not copies) and the job may modify them, so their targets are writable.
   */
  readonly inplaceUpdate: boolean;
  /** Entries placed at absolute paths in a container (initial-work-dir.ts ContainerEntries). */
  readonly extraMounts?: readonly Mount[];
}

/** Computes the job's mount list from its directories as staged; call right before submitting. */
export async function jobConfinement(dirs: JobDirectories, options: ConfinementOptions): Promise<Confinement> {
  const staged = await isDirectory(dirs.stageDir);
  const own: Mount[] = [
    identity(dirs.outdir, true),
    identity(dirs.tmpdir, true),
    // stage/ exists only when the tool has File or Directory inputs.
    ...(staged ? [identity(dirs.stageDir, false)] : []),
    ...(dirs.outputDirectory === undefined ? [] : [{ hostPath: dirs.outdir, jobPath: dirs.outputDirectory, writable: true }]),
    ...(options.extraMounts ?? []),
  ];
  const entries = dirs.entriesRoot !== undefined && (await isDirectory(dirs.entriesRoot));
  const linked = [
    ...(staged ? await linkTargets(dirs.stageDir, false) : []),
    ...(await linkTargets(dirs.outdir, options.inplaceUpdate)),
    ...(entries ? await linkTargets(dirs.entriesRoot, options.inplaceUpdate) : []),
  ];
  return { mounts: minimalMounts([...own, ...linked]), network: options.network };
}

function identity(path: string, writable: boolean): Mount {
  return { hostPath: path, jobPath: path, writable };
}

/**
 * A mount for every symlink below `dir` (not following links): the job sees the link's
 * target at the path the link names, backed by the host's real file. Dangling links get none.
 */
async function linkTargets(dir: string, writable: boolean): Promise<Mount[]> {
  const mounts: Mount[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isSymbolicLink()) {
        const named = resolve(dirname(path), await readlink(path));
        const real = await realpath(path).catch(() => undefined);
        if (real !== undefined) mounts.push({ hostPath: real, jobPath: named, writable });
      }
    }
  };
  await walk(dir);
  return mounts;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() === true;
}

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Drops mounts another mount already provides (same file at the same place, at least as
 * writable) and orders parents before children, since a later mount covers an earlier one.
 */
function minimalMounts(mounts: readonly Mount[]): Mount[] {
  const covers = (outer: Mount, inner: Mount): boolean =>
    within(inner.jobPath, outer.jobPath) &&
    outer.hostPath + inner.jobPath.slice(outer.jobPath.length) === inner.hostPath &&
    (outer.writable || !inner.writable);
  const kept: Mount[] = [];
  for (const mount of [...mounts].sort((a, b) => depth(a.jobPath) - depth(b.jobPath) || Number(b.writable) - Number(a.writable))) {
    if (!kept.some((outer) => covers(outer, mount))) kept.push(mount);
  }
  return kept;
}

function depth(path: string): number {
  return path.split(sep).length;
}
