/**
 * What a containerised job sees of the host: its output, tmp and staging directories, every
 * input File/Directory read-only at its own path (the staged symlinks point there), entries an
 * InitialWorkDir placed at absolute paths, and the output directory a second time at
 * dockerOutputDirectory. Every path keeps its host name (jobPath = hostPath) except that
 * alias, so command lines are the same with and without a container.
 *
 * Interim: the engine's single mount list (src/engine/job-mounts.ts, shared with the bubblewrap
 * sandbox) replaces this once both are merged.
 */
import { lstat } from 'node:fs/promises';
import type { Mount } from '../executors/executor.js';
import type { CwlValue } from './cwl-value.js';
import { localPath } from './file-values.js';
import { isFileLike, isObject } from './value-types.js';

export interface ContainerJobDirs {
  readonly outdir: string;
  readonly tmpdir: string;
  readonly stageDir: string;
  /** dockerOutputDirectory, when the output directory has a second name in the container. */
  readonly outputDirectory?: string;
}

/** Host paths of every File/Directory in `value` (secondaryFiles and listings included). */
function inputPaths(value: CwlValue, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) inputPaths(v, into);
    return;
  }
  if (!isObject(value)) return;
  for (const v of Object.values(value)) inputPaths(v, into);
  if (!isFileLike(value)) return;
  const path = typeof value.location === 'string' ? localPath(value.location) : typeof value.path === 'string' ? value.path : undefined;
  if (path !== undefined) into.add(path);
}

export async function containerMounts(dirs: ContainerJobDirs, inputs: CwlValue, extra: readonly Mount[]): Promise<Mount[]> {
  const mounts: Mount[] = [
    { hostPath: dirs.outdir, jobPath: dirs.outdir, writable: true },
    { hostPath: dirs.tmpdir, jobPath: dirs.tmpdir, writable: true },
    { hostPath: dirs.stageDir, jobPath: dirs.stageDir, writable: false },
  ];
  if (dirs.outputDirectory !== undefined) mounts.push({ hostPath: dirs.outdir, jobPath: dirs.outputDirectory, writable: true });
  const paths = new Set<string>();
  inputPaths(inputs, paths);
  // Before the inputs, so that an InplaceUpdate original is mounted writable.
  mounts.push(...extra);
  for (const path of [...paths].sort()) mounts.push({ hostPath: path, jobPath: path, writable: false });
  // One mount per destination (engines refuse duplicates; the first, most specific role wins),
  // and only of what exists: a job without inputs has no stage directory.
  const seen = new Set<string>();
  const unique = mounts.filter((m) => !seen.has(m.jobPath) && seen.add(m.jobPath) !== undefined);
  const exists = await Promise.all(unique.map((m) => lstat(m.hostPath).then(() => true, () => false)));
  return unique.filter((_, i) => exists[i]);
}
