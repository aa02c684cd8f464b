/**
 * InitialWorkDirRequirement: evaluates the listing and materializes each entry in the output
 * directory before the command runs — Files/Directories (symlinked, or copied when
 * writable), Dirents whose `entry` is text (written as a file; non-string values as JSON).
 * Returns a map from original to new path so the job's input values can follow their files.
 * An entryname may name subdirectories (as the spec allows) but every entry stays inside the
 * output directory, links included (the run's PathPolicy).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { Mount } from '../../executors/executor.js';
import type { CwlValue } from '../values/cwl-value.js';
import type { Requirement } from '../cwl/model.js';
import { JobFailedError, type Evaluator } from './job-context.js';
import type { PathPolicy } from '../values/path-policy.js';
import { basenameOf, stageAt } from './staging.js';
import { localPath } from '../values/file-values.js';
import { isFileLike, isObject } from '../values/value-types.js';
import { pythonJson } from '../expressions/python-json.js';
import { stringifyJson } from '../../exact-json.js';

/**
 * What a job in a container needs mounted besides its own directories: entries with an
 * absolute entryname (allowed only with `absoluteNames`) are staged on the host below
 * `hostRoot` and each is mounted at its name.
 */
export interface ContainerEntries {
  readonly hostRoot: string;
  readonly absoluteNames: boolean;
  readonly mounts: Mount[];
}

export async function stageInitialWorkDir(
  requirement: Requirement,
  outdir: string,
  evaluate: Evaluator,
  inplaceUpdate: boolean,
  policy: PathPolicy,
  container?: ContainerEntries,
): Promise<Map<string, string>> {
  const moved = new Map<string, string>();
  /** Where an entry is written on the host, the path the job sees it at, and the directory it must stay in. */
  const resolveTarget = (name: string, writable: boolean): { host: string; job: string; within: string } => {
    if (!isAbsolute(name) || container?.absoluteNames !== true) {
      const host = targetIn(outdir, name);
      return { host, job: host, within: outdir };
    }
    const host = targetIn(container.hostRoot, name.replace(/^\/+/, ''));
    container.mounts.push({ hostPath: host, jobPath: normalize(name), writable });
    return { host, job: normalize(name), within: container.hostRoot };
  };
  const place = async (value: CwlValue, name: string | undefined, writable: boolean): Promise<void> => {
    if (value === null) return;
    if (Array.isArray(value)) {
      for (const v of value) await place(v, undefined, writable);
      return;
    }
    if (isFileLike(value)) {
      const target = resolveTarget(name ?? basenameOf(value), writable);
      // With InplaceUpdateRequirement a writable entry is the original itself, not a copy.
      await stageAt({ policy, within: target.within }, value, target.host, writable && !inplaceUpdate);
      const source = typeof value.path === 'string' ? value.path : typeof value.location === 'string' ? localPath(value.location) : undefined;
      if (source !== undefined) moved.set(source, target.job);
      return;
    }
    if (isObject(value) && 'entry' in value) {
      const entryName = await evaluate(value.entryname ?? null, null);
      await placeDirent(value.entry, typeof entryName === 'string' ? entryName : undefined, value.writable === true);
      return;
    }
    throw new JobFailedError(`InitialWorkDirRequirement: cannot stage ${stringifyJson(value).slice(0, 80)}`);
  };
  const placeDirent = async (entry: CwlValue, name: string | undefined, writable: boolean): Promise<void> => {
    const value = await evaluate(entry, null, { stripWhitespace: false });
    if (value === null) return;
    if (isFileLike(value) || (Array.isArray(value) && value.every(isFileLike))) {
      await place(value, name, writable);
      return;
    }
    if (name === undefined) throw new JobFailedError('InitialWorkDirRequirement: a text entry needs an entryname');
    const text = typeof value === 'string' ? value : pythonJson(value);
    const target = resolveTarget(name, writable);
    await policy.writable(target.host, `InitialWorkDirRequirement: entryname ${name}`, target.within);
    await mkdir(dirname(target.host), { recursive: true });
    await writeFile(target.host, text);
  };
  const listing: CwlValue = Array.isArray(requirement.listing) ? (requirement.listing as CwlValue[]) : String(requirement.listing ?? '');
  if (typeof listing === 'string') await place(await evaluate(listing, null), undefined, false);
  else {
    for (const item of listing) {
      if (typeof item === 'string') await place(await evaluate(item, null), undefined, false);
      else await place(item, undefined, false);
    }
  }
  return moved;
}

function targetIn(outdir: string, name: string): string {
  if (isAbsolute(name)) throw new JobFailedError(`InitialWorkDirRequirement: absolute entryname ${name} needs a DockerRequirement (not a hint) and a container engine`);
  const target = join(outdir, name);
  if (!target.startsWith(`${outdir}/`)) throw new JobFailedError(`InitialWorkDirRequirement: entryname ${name} leaves the working directory`);
  return target;
}
