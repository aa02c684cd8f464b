/**
 * CWL parameter references without JavaScript: `inputs.x`, `self[0]`, `runtime.outdir`,
 * `inputs['a b'].length`, following the grammar of the CWL spec (symbol, then `.symbol`,
 * `['quoted']`, `["quoted"]` or `[index]` segments). `length` of an array is its size.
 */
import type { CwlValue } from '../values/cwl-value.js';
import { ExpressionError } from './expression-error.js';
import { stringifyJson } from '../../exact-json.js';

/**
 * Whether `code` is a parameter reference whose native value, when it has one, is what
 * JavaScript would give (no escapes in quoted keys), so it needs no sandbox.
 */
export function isPlainReference(code: string): boolean {
  return /^\s*[\p{L}_][\p{L}\p{N}_]*(?:\.[\p{L}\p{N}_]+|\[\d+\]|\['[^'\\]*'\]|\["[^"\\]*"\])*\s*$/u.test(code);
}

export function evaluateParameterReference(reference: string, root: Readonly<Record<string, CwlValue>>): CwlValue {
  const { head, rest } = parse(reference.trim());
  if (head === 'null' && rest.length === 0) return null;
  if (!(head in root)) throw new ExpressionError(`$(${reference}): unknown name ${head}`);
  let value: CwlValue = root[head];
  let path = head;
  for (const segment of rest) {
    value = step(value, segment, path, reference);
    path += typeof segment === 'number' ? `[${segment}]` : `.${segment}`;
  }
  return value;
}

function step(value: CwlValue, segment: string | number, path: string, reference: string): CwlValue {
  if (Array.isArray(value)) {
    if (segment === 'length') return value.length;
    const index = Number(segment);
    if (!Number.isInteger(index)) throw new ExpressionError(`$(${reference}): ${path} is an array, cannot take .${segment}`);
    if (index < 0 || index >= value.length) throw new ExpressionError(`$(${reference}): index ${index} out of range of ${path}`);
    return value[index];
  }
  if (typeof value === 'object' && value !== null) {
    const key = String(segment);
    if (!Object.hasOwn(value, key)) throw new ExpressionError(`$(${reference}): ${path} has no property ${key}`);
    return value[key];
  }
  throw new ExpressionError(`$(${reference}): ${path} is ${stringifyJson(value)}, cannot take ${String(segment)}`);
}

function parse(reference: string): { head: string; rest: (string | number)[] } {
  const symbol = /^[\p{L}\p{N}_]+/u;
  const head = symbol.exec(reference);
  if (head === null) throw new ExpressionError(`$(${reference}): not a parameter reference`);
  const segments: (string | number)[] = [];
  let rest = reference.slice(head[0].length);
  while (rest !== '') {
    let match: RegExpExecArray | null;
    if ((match = /^\.([\p{L}\p{N}_]+)/u.exec(rest)) !== null) segments.push(match[1]);
    else if ((match = /^\['((?:[^'\\]|\\.)*)'\]/.exec(rest)) !== null) segments.push(match[1].replace(/\\(.)/g, '$1'));
    else if ((match = /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest)) !== null) segments.push(match[1].replace(/\\(.)/g, '$1'));
    else if ((match = /^\[(\d+)\]/.exec(rest)) !== null) segments.push(Number(match[1]));
    else throw new ExpressionError(`$(${reference}): cannot parse "${rest}" (JavaScript needs InlineJavascriptRequirement)`);
    rest = rest.slice(match[0].length);
  }
  return { head: head[0], rest: segments };
}
