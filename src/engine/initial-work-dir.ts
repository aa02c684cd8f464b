/**
 * InitialWorkDirRequirement: evaluates the listing and materializes each entry in the output
 * directory before the command runs — Files/Directories (symlinked, or copied when
 * writable), Dirents whose `entry` is text (written as a file; non-string values as JSON).
 * Returns a map from original to new path so the job's input values can follow their files.
 * An entryname may name subdirectories (as the spec allows) but every entry stays inside the
 * output directory, links included (the run's PathPolicy).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { CwlValue } from './cwl-value.js';
import type { Requirement } from './cwl/model.js';
import { JobFailedError, type Evaluator } from './job-context.js';
import type { PathPolicy } from './path-policy.js';
import { basenameOf, stageAt } from './staging.js';
import { localPath } from './file-values.js';
import { isFileLike, isObject } from './value-types.js';
import { pythonJson } from './expressions/python-json.js';
import { stringifyJson } from '../exact-json.js';

export async function stageInitialWorkDir(
  requirement: Requirement,
  outdir: string,
  evaluate: Evaluator,
  inplaceUpdate: boolean,
  policy: PathPolicy,
): Promise<Map<string, string>> {
  const moved = new Map<string, string>();
  const area = { policy, within: outdir };
  const place = async (value: CwlValue, name: string | undefined, writable: boolean): Promise<void> => {
    if (value === null) return;
    if (Array.isArray(value)) {
      for (const v of value) await place(v, undefined, writable);
      return;
    }
    if (isFileLike(value)) {
      const target = resolveTarget(outdir, name ?? basenameOf(value));
      // With InplaceUpdateRequirement a writable entry is the original itself, not a copy.
      await stageAt(area, value, target, writable && !inplaceUpdate);
      const source = typeof value.path === 'string' ? value.path : typeof value.location === 'string' ? localPath(value.location) : undefined;
      if (source !== undefined) moved.set(source, target);
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
    const target = resolveTarget(outdir, name);
    await policy.writable(target, `InitialWorkDirRequirement: entryname ${name}`, outdir);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
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

function resolveTarget(outdir: string, name: string): string {
  if (isAbsolute(name)) throw new JobFailedError(`InitialWorkDirRequirement: absolute entryname ${name} needs a container`);
  const target = join(outdir, name);
  if (!target.startsWith(`${outdir}/`)) throw new JobFailedError(`InitialWorkDirRequirement: entryname ${name} leaves the working directory`);
  return target;
}
