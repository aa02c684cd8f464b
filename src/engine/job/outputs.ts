/**
 * Collects a finished job's outputs: `cwl.output.json` when the tool wrote one, otherwise
 * each output's binding (glob, loadContents, outputEval, secondaryFiles, format), recursing
 * into record fields. Files found get size and sha1 checksum; literals returned by
 * expressions are written into the output directory. Each value is checked against its type.
 * Every file an output names (globbed, linked, returned by outputEval or cwl.output.json, a
 * secondary file) must pass the run's PathPolicy, or the job fails naming that output.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import type { CwlType, OutputBinding, Parameter, SecondaryFileSpec } from '../cwl/model.js';
import { describePath, listDirectory, localPath, readContents, resolveFileValues, sha1Of } from '../values/file-values.js';
import { glob } from '../values/glob.js';
import { checkBasename, PathEscapeError, type PathPolicy } from '../values/path-policy.js';
import { isInside } from '../../run-files.js';
import { basenameOf, nameOf, stageAt } from './staging.js';
import { isFileLike, isObject, problemsOf } from '../values/value-types.js';
import { parseJson, stringifyJson } from '../../exact-json.js';

export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

export interface OutputContext {
  readonly outdir: string;
  /** Evaluates an expression with `self` (and the job's inputs/runtime). */
  readonly evaluate: (expression: CwlValue | undefined, self: CwlValue) => Promise<CwlValue>;
  /** loadListing in effect for output directories. */
  readonly loadListing: string;
  /** What outputs may point at: a tool must not publish host files by linking or naming them. */
  readonly policy: PathPolicy;
}

/** Where output files are finalized: literals and renamed copies are written into `outdir`. */
export type FinalizeContext = Pick<OutputContext, 'outdir' | 'policy'>;

export async function collectOutputs(outputs: readonly Parameter[], ctx: OutputContext): Promise<CwlObject> {
  const custom = join(ctx.outdir, 'cwl.output.json');
  let given: CwlObject | undefined;
  try {
    const parsed: unknown = parseJson(await readFile(await ctx.policy.readable(custom, 'cwl.output.json'), 'utf8'));
    if (isObject(parsed as CwlValue)) given = parsed as CwlObject;
  } catch (error) {
    if (error instanceof PathEscapeError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new OutputError(`cwl.output.json: ${String(error)}`);
  }
  const result: CwlObject = {};
  for (const output of outputs) {
    const value =
      given !== undefined
        ? await finalizeFiles(resolveFileValues(given[output.id] ?? null, pathToFileURL(`${ctx.outdir}/`).href), ctx, `output ${output.id}`)
        : await collectOutput(`output ${output.id}`, output.type, output.outputBinding, output.secondaryFiles, output.format, ctx);
    checkOutput(output.id, value, output.type);
    result[output.id] = value;
  }
  return result;
}

export function checkOutput(id: string, value: CwlValue, type: CwlType): void {
  // An output declared Any may be null (unlike an input).
  if (type === 'Any' && value === null) return;
  const problems = problemsOf(value, type, `output ${id}`);
  if (problems.length > 0) throw new OutputError(problems.join('; '));
}

async function collectOutput(
  what: string,
  type: CwlType,
  binding: OutputBinding | undefined,
  secondaryFiles: readonly SecondaryFileSpec[],
  format: CwlValue | undefined,
  ctx: OutputContext,
): Promise<CwlValue> {
  const record = recordMember(type);
  if (binding === undefined && record !== undefined) {
    const out: CwlObject = {};
    for (const field of record.fields) {
      out[field.name] = await collectOutput(`${what}.${field.name}`, field.type, field.outputBinding, field.secondaryFiles, field.format, ctx);
    }
    return out;
  }
  if (binding === undefined) return null;
  let files: CwlObject[] = [];
  if (binding.glob !== undefined) {
    const patterns = await ctx.evaluate(binding.glob, null);
    for (const pattern of Array.isArray(patterns) ? patterns : [patterns]) {
      if (typeof pattern !== 'string') throw new OutputError(`glob must be a string, got ${stringifyJson(pattern)}`);
      // Not even listed: a glob only looks inside the output directory.
      if (!isInside(resolve(ctx.outdir, pattern), ctx.outdir)) throw new PathEscapeError(`${what}: glob ${JSON.stringify(pattern)} leaves the output directory`);
      for (const path of await glob(pattern, ctx.outdir)) {
        files.push(await describeOutput(ctx, path, `${what} (${path})`));
      }
    }
    if (binding.loadContents) {
      for (const f of files) if (f.class === 'File') f.contents = await readContents(ctx.policy, String(f.path), `${what} (${String(f.path)})`);
    }
  }
  let value: CwlValue;
  if (binding.outputEval !== undefined) {
    value = await finalizeFiles(await ctx.evaluate(binding.outputEval, files), ctx, what);
  } else if (wantsList(type)) {
    value = files;
  } else {
    if (files.length > 1) throw new OutputError(`glob matched ${files.length} files where one was expected`);
    value = files[0] ?? null;
  }
  return decorate(what, value, secondaryFiles, format, ctx);
}

function recordMember(type: CwlType): Extract<CwlType, { type: 'record' }> | undefined {
  if (Array.isArray(type)) return type.map(recordMember).find((t) => t !== undefined);
  return typeof type === 'object' && type.type === 'record' ? type : undefined;
}

function wantsList(type: CwlType): boolean {
  if (Array.isArray(type)) return type.some(wantsList);
  return type === 'Any' || (typeof type === 'object' && type.type === 'array');
}

async function describeOutput(ctx: OutputContext, path: string, what: string): Promise<CwlObject> {
  const value = await describePath(ctx.policy, path, true, what);
  if (value.class === 'Directory') {
    value.listing = await listDirectory(ctx.policy, path, ctx.loadListing !== 'shallow_listing', true, what);
  }
  return value;
}

/** Adds secondaryFiles found next to each primary file, and the evaluated format. */
async function decorate(
  what: string,
  value: CwlValue,
  secondaryFiles: readonly SecondaryFileSpec[],
  format: CwlValue | undefined,
  ctx: OutputContext,
): Promise<CwlValue> {
  if (Array.isArray(value)) {
    const out: CwlValue[] = [];
    for (const v of value) out.push(await decorate(what, v, secondaryFiles, format, ctx));
    return out;
  }
  if (!isFileLike(value) || value.class !== 'File') return value;
  const out: CwlObject = { ...value };
  if (format !== undefined) out.format = await ctx.evaluate(format, value);
  if (secondaryFiles.length > 0 && typeof value.path === 'string') {
    const found: CwlValue[] = Array.isArray(value.secondaryFiles) ? [...value.secondaryFiles] : [];
    for (const spec of secondaryFiles) {
      // Output secondary files are optional unless `required` says otherwise (unlike inputs').
      const required = spec.required === undefined ? false : await ctx.evaluate(spec.required, value);
      const names = await secondaryNames(spec.pattern, value, ctx);
      for (const name of names) {
        const secondaryWhat = `${what}: secondary file ${JSON.stringify(name)}`;
        if (isFileLike(name)) {
          found.push(await finalizeFiles(resolveFileValues(name, pathToFileURL(`${dirname(value.path)}/`).href), ctx, secondaryWhat));
          continue;
        }
        const path = join(dirname(value.path), String(name));
        try {
          await ctx.policy.readable(path, secondaryWhat);
        } catch (error) {
          if (error instanceof PathEscapeError) throw error;
          if (required === true) throw new OutputError(`secondary file ${String(name)} of output ${String(value.basename)} is missing`);
          continue;
        }
        found.push(await describeOutput(ctx, path, secondaryWhat));
      }
    }
    out.secondaryFiles = found;
  }
  return out;
}

/** Names (or values) a secondaryFiles pattern yields for a primary file ("^.bai", ".idx", expressions). */
export async function secondaryNames(
  pattern: string,
  primary: CwlObject,
  ctx: Pick<OutputContext, 'evaluate'>,
): Promise<CwlValue[]> {
  if (pattern.includes('$(') || pattern.includes('${')) {
    const result = await ctx.evaluate(pattern, primary);
    return Array.isArray(result) ? result : result === null ? [] : [result];
  }
  let name = basenameOf(primary);
  let rest = pattern;
  while (rest.startsWith('^')) {
    const dot = name.lastIndexOf('.');
    if (dot > 0) name = name.slice(0, dot);
    rest = rest.slice(1);
  }
  return [name + rest];
}

/**
 * Output Files get size/checksum; literals from expressions are written into outdir, and a
 * File an expression renames (another basename) is copied into outdir under that name.
 */
export async function finalizeFiles(value: CwlValue, ctx: FinalizeContext, what: string): Promise<CwlValue> {
  if (Array.isArray(value)) {
    const out: CwlValue[] = [];
    for (const v of value) out.push(await finalizeFiles(v, ctx, what));
    return out;
  }
  if (isObject(value) && value.class !== 'File' && value.class !== 'Directory') {
    const out: CwlObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = await finalizeFiles(v, ctx, what);
    return out;
  }
  if (!isFileLike(value)) return value;
  const valueWhat = `${what}: ${nameOf(value)}`;
  const area = { policy: ctx.policy, within: ctx.outdir };
  let path = typeof value.location === 'string' ? localPath(value.location) : undefined;
  if (path === undefined) {
    const written = await stageAt(area, value, join(ctx.outdir, basenameOf(value)), true);
    return finalizeFiles({ ...written, location: pathToFileURL(String(written.path)).href }, ctx, what);
  }
  try {
    await ctx.policy.readable(path, valueWhat);
  } catch (error) {
    if (error instanceof PathEscapeError) throw error;
    throw new OutputError(`${valueWhat} does not exist`);
  }
  // An expression may rename an output by giving it another basename: the file gets that name.
  if (typeof value.basename === 'string' && value.basename !== basename(path)) {
    const name = checkBasename(value.basename, valueWhat);
    const renamed = join(isInside(dirname(path), ctx.outdir) ? dirname(path) : ctx.outdir, name);
    await stageAt(area, { ...value, secondaryFiles: [] }, renamed, true);
    path = renamed;
  }
  const out: CwlObject = { ...value, location: pathToFileURL(path).href, path, basename: basename(path) };
  if (value.class === 'File') {
    out.size = (await stat(await ctx.policy.readable(path, valueWhat))).size;
    if (typeof value.checksum !== 'string') out.checksum = await sha1Of(ctx.policy, path, valueWhat);
  }
  for (const key of ['secondaryFiles', 'listing'] as const) {
    const list: CwlValue | undefined = value[key];
    if (Array.isArray(list)) out[key] = await finalizeFiles(list, ctx, what);
  }
  return out;
}
