/**
 * JSON text the way Python's `json.dumps(value, sort_keys=True)` writes it (", " and ": "
 * separators, sorted keys, non-ASCII escaped). CWL splices non-string values into strings and
 * InitialWorkDir files this way in the reference implementation, and tests compare checksums.
 */
import type { CwlValue } from '../values/cwl-value.js';
import { stringifyJson } from '../../exact-json.js';

export function pythonJson(value: CwlValue): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${quote(k)}: ${pythonJson(value[k])}`).join(', ')}}`;
  }
  if (typeof value === 'string') return quote(value);
  return stringifyJson(value);
}

function quote(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
