/**
 * Validation of a run's input object before anything runs: File/Directory `location`/`path`
 * resolved against the run's base directory (defaults against their document), defaults
 * applied, every value checked against its declared type. All problems are reported at once.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidWorkflowError } from '../../errors.js';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import type { Process } from './model.js';
import { resolveFileValues } from '../values/file-values.js';
import { isFileLike, isObject, problemsOf } from '../values/value-types.js';

export function prepareInputs(process: Process, params: CwlObject, baseDir: string): CwlObject {
  const baseUrl = pathToFileURL(`${resolve(baseDir)}/`).href;
  const out: CwlObject = {};
  const problems: string[] = [];
  for (const input of process.inputs) {
    const given = params[input.id];
    let value = given === undefined || given === null ? null : expandFormats(resolveFileValues(given, baseUrl), process.namespaces);
    if (value === null && input.default !== undefined) value = resolveFileValues(input.default, process.documentUrl);
    problems.push(...problemsOf(value, input.type, `inputs.${input.id}`));
    out[input.id] = value;
  }
  // Requirements may travel in the input object; the engine applies them over the documents'.
  if (Array.isArray(params['cwl:requirements'])) out['cwl:requirements'] = params['cwl:requirements'];
  if (problems.length > 0) throw new InvalidWorkflowError(problems);
  return out;
}

function expandFormats(value: CwlValue, namespaces: Readonly<Record<string, string>>): CwlValue {
  if (Array.isArray(value)) return value.map((v) => expandFormats(v, namespaces));
  if (!isObject(value)) return value;
  const out: CwlObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = expandFormats(v, namespaces);
  if (isFileLike(value) && typeof value.format === 'string') {
    const colon = value.format.indexOf(':');
    const namespace = colon > 0 ? namespaces[value.format.slice(0, colon)] : undefined;
    if (namespace !== undefined) out.format = namespace + value.format.slice(colon + 1);
  }
  return out;
}
