/**
 * Completes the input object of one tool invocation: defaults for missing/null inputs,
 * a type check, and for Files/Directories what the parameter asks for — secondaryFiles
 * discovered next to the primary file, `contents` (loadContents), `listing` (loadListing)
 * and `size`, each file read through the run's PathPolicy.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import type { CwlType, FormatGraph, Parameter, Process, SecondaryFileSpec } from '../cwl/model.js';
import { formatMatches } from '../cwl/format-ontology.js';
import { listDirectory, localPath, readContents, resolveFileValues } from '../values/file-values.js';
import { JobFailedError, type Evaluator } from './job-context.js';
import { PathEscapeError, type PathPolicy } from '../values/path-policy.js';
import { nameOf } from './staging.js';
import { secondaryNames } from './outputs.js';
import { findRequirement, type RequirementScope } from '../cwl/requirements.js';
import { isFileLike, isObject, matchingMember, problemsOf } from '../values/value-types.js';

/** Defaults applied and types checked; throws JobFailedError listing the problems. */
export function withDefaults(process: Process, given: CwlObject): CwlObject {
  const out: CwlObject = {};
  const problems: string[] = [];
  for (const input of process.inputs) {
    let value = given[input.id] ?? null;
    if (value === null && input.default !== undefined) value = resolveFileValues(input.default, process.documentUrl);
    problems.push(...problemsOf(value, input.type, `input ${input.id}`));
    out[input.id] = value;
  }
  for (const [k, v] of Object.entries(given)) if (!(k in out)) out[k] = v;
  if (problems.length > 0) throw new JobFailedError(problems.join('; '));
  return out;
}

/** What one parameter (or record field) asks of the Files and Directories it receives. */
interface Wanted {
  readonly secondaryFiles: readonly SecondaryFileSpec[];
  readonly loadContents: boolean;
  readonly loadListing: string;
  readonly format?: CwlValue;
}

interface Completion {
  /** Look for missing secondaryFiles on disk (top-level inputs only), else require them present. */
  readonly discover: boolean;
  /** loadListing when the parameter gives none. */
  readonly fallbackListing: string;
  readonly formatGraph: FormatGraph;
  readonly evaluate: Evaluator;
  readonly policy: PathPolicy;
}

export async function completeInputs(
  process: Process,
  inputs: CwlObject,
  scope: RequirementScope,
  evaluate: Evaluator,
  discover: boolean,
  policy: PathPolicy,
): Promise<CwlObject> {
  const defaultListing = findRequirement(scope, 'LoadListingRequirement')?.loadListing;
  const fallbackListing =
    typeof defaultListing === 'string' ? defaultListing : process.cwlVersion === 'v1.0' ? 'deep_listing' : 'no_listing';
  const completion: Completion = { discover, fallbackListing, formatGraph: process.formatGraph, evaluate, policy };
  const out: CwlObject = { ...inputs };
  for (const input of process.inputs) {
    out[input.id] = await complete(inputs[input.id] ?? null, input.type, wantedOf(input, completion), completion);
  }
  return out;
}

function wantedOf(
  p: Pick<Parameter, 'secondaryFiles' | 'loadContents' | 'format'> & { loadListing?: string },
  completion: Completion,
): Wanted {
  return {
    secondaryFiles: p.secondaryFiles,
    loadContents: p.loadContents,
    loadListing: p.loadListing ?? completion.fallbackListing,
    format: p.format,
  };
}

async function complete(value: CwlValue, type: CwlType, wanted: Wanted, completion: Completion): Promise<CwlValue> {
  if (value === null) return null;
  const member = matchingMember(value, type) ?? type;
  if (Array.isArray(value)) {
    const items = typeof member === 'object' && !Array.isArray(member) && member.type === 'array' ? member.items : 'Any';
    const out: CwlValue[] = [];
    for (const v of value) out.push(await complete(v, items, wanted, completion));
    return out;
  }
  if (isFileLike(value)) return completeFile(value, wanted, completion);
  if (isObject(value) && typeof member === 'object' && !Array.isArray(member) && member.type === 'record') {
    const out: CwlObject = { ...value };
    for (const field of member.fields) {
      const v = value[field.name] ?? null;
      out[field.name] = await complete(v, field.type, wantedOf(field, completion), completion);
    }
    return out;
  }
  return value;
}

/** A File input of a parameter with `format` must have that format or a subclass of it. */
async function checkFormat(value: CwlObject, wanted: Wanted, completion: Completion): Promise<void> {
  if (wanted.format === undefined || value.class !== 'File') return;
  const evaluated = await completion.evaluate(wanted.format, null);
  const allowed = (Array.isArray(evaluated) ? evaluated : [evaluated]).filter((f): f is string => typeof f === 'string');
  const actual = value.format;
  if (typeof actual !== 'string') throw new JobFailedError(`input file ${String(value.location)} has no format, expected ${allowed.join(' or ')}`);
  if (!allowed.some((f) => formatMatches(actual, f, completion.formatGraph))) {
    throw new JobFailedError(`input file ${String(value.location)} has format ${actual}, expected ${allowed.join(' or ')}`);
  }
}

async function completeFile(value: CwlObject, wanted: Wanted, completion: Completion): Promise<CwlObject> {
  await checkFormat(value, wanted, completion);
  const { evaluate, policy } = completion;
  const out: CwlObject = { ...value };
  const what = `input ${nameOf(value)}`;
  const path = typeof value.location === 'string' ? localPath(value.location) : undefined;
  if (value.class === 'File' && path !== undefined) {
    try {
      out.size = (await stat(await policy.readable(path, what))).size;
    } catch (error) {
      if (error instanceof PathEscapeError) throw error;
      throw new JobFailedError(`${what} does not exist`);
    }
    if (wanted.loadContents && typeof value.contents !== 'string') out.contents = await readContents(policy, path, what);
  }
  // A located directory is listed from disk (it may have changed since an earlier step listed it).
  if (value.class === 'Directory' && path !== undefined && wanted.loadListing !== 'no_listing') {
    out.listing = await listDirectory(policy, path, wanted.loadListing === 'deep_listing', false, what);
  } else if (Array.isArray(value.listing)) {
    const plain: Wanted = { ...wanted, secondaryFiles: [], loadContents: false, format: undefined };
    const listing: CwlValue[] = [];
    for (const entry of value.listing) listing.push(isFileLike(entry) ? await completeFile(entry, plain, completion) : entry);
    out.listing = listing;
  }
  if (wanted.secondaryFiles.length > 0 && path !== undefined) {
    const present = Array.isArray(value.secondaryFiles) ? [...value.secondaryFiles] : [];
    const known = new Set(present.filter(isFileLike).map((f) => f.basename));
    for (const spec of wanted.secondaryFiles) {
      const required = spec.required === undefined ? true : await evaluate(spec.required, value);
      for (const name of await secondaryNames(spec.pattern, value, { evaluate })) {
        if (isFileLike(name)) {
          present.push(resolveFileValues(name, pathToFileURL(`${dirname(path)}/`).href));
          continue;
        }
        if (typeof name !== 'string' || known.has(name)) continue;
        const candidate = join(dirname(path), name);
        if (!completion.discover) {
          if (required === true) throw new JobFailedError(`missing required secondary file ${name} of ${what}`);
          continue;
        }
        try {
          const info = await stat(await policy.readable(candidate, `${what}: secondary file ${JSON.stringify(name)}`));
          present.push(resolveFileValues({ class: info.isDirectory() ? 'Directory' : 'File', location: candidate }, 'file:///'));
          known.add(name);
        } catch (error) {
          if (error instanceof PathEscapeError) throw error;
          if (required === true) throw new JobFailedError(`missing required secondary file ${candidate}`);
        }
      }
    }
    out.secondaryFiles = present;
  }
  return out;
}
