/**
 * Builds a CommandLineTool's argv from its bindings, following the CWL spec's algorithm (and
 * cwltool's reading of it): every `arguments` entry and every input (recursively through
 * records and arrays) with an inputBinding becomes a binding with a sort key
 * [position, name-or-index, …]; bindings are sorted (numbers before strings) and each is
 * rendered according to its value: prefix/separate, itemSeparator, booleans as flags,
 * Files as paths. With ShellCommandRequirement the parts are joined into one `sh -c` string,
 * quoting those whose binding has shellQuote.
 */
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import type { CommandLineTool, CwlType, InputBinding } from '../cwl/model.js';
import { ExpressionError } from '../expressions/expression-error.js';
import { isFileLike, isObject, matchingMember } from '../values/value-types.js';
import { stringifyJson } from '../../exact-json.js';

type SortKey = (number | string)[];

interface Binding {
  readonly key: SortKey;
  readonly binding: InputBinding;
  readonly datum: CwlValue;
}

export type Evaluate = (expression: CwlValue | undefined, self: CwlValue) => Promise<CwlValue>;

export async function buildCommandLine(
  tool: CommandLineTool,
  inputs: CwlObject,
  evaluate: Evaluate,
  shellCommand: boolean,
): Promise<string[]> {
  const bindings: Binding[] = [];
  for (const [i, argument] of tool.arguments.entries()) {
    if (typeof argument === 'string') {
      bindings.push({ key: [0, i], binding: { ...literalBinding, valueFrom: argument }, datum: null });
    } else {
      bindings.push({ key: [...(await positionOf(argument, null, evaluate)), i], binding: argument, datum: null });
    }
  }
  for (const input of tool.inputs) {
    const datum = inputs[input.id] ?? null;
    // Null (absent optional) inputs produce no binding at all, not even their valueFrom.
    if (datum === null) continue;
    bindings.push(...(await bindInput(input.type, input.inputBinding, datum, [], [input.id], evaluate)));
  }
  bindings.sort((a, b) => compareKeys(a.key, b.key));
  const parts: { text: string; quote: boolean }[] = tool.baseCommand.map((text) => ({ text, quote: true }));
  for (const b of bindings) {
    for (const text of await render(b, evaluate)) parts.push({ text, quote: b.binding.shellQuote });
  }
  if (!shellCommand) return parts.map((p) => p.text);
  return ['/bin/sh', '-c', parts.map((p) => (p.quote ? shellQuote(p.text) : p.text)).join(' ')];
}

const literalBinding: InputBinding = { position: 0, separate: true, shellQuote: true, loadContents: false };

async function positionOf(binding: InputBinding, datum: CwlValue, evaluate: Evaluate): Promise<SortKey> {
  if (typeof binding.position === 'number') return [binding.position];
  const value = (await evaluate(binding.position, datum)) ?? 0;
  if (typeof value !== 'number') throw new ExpressionError(`inputBinding position ${binding.position} is not a number`);
  return [value];
}

async function bindInput(
  type: CwlType,
  binding: InputBinding | undefined,
  datum: CwlValue,
  lead: SortKey,
  tail: SortKey,
  evaluate: Evaluate,
): Promise<Binding[]> {
  const key = binding === undefined ? undefined : [...lead, ...(await positionOf(binding, datum, evaluate)), ...tail];
  let inner: Binding[] = [];
  const member = datum === null ? undefined : matchingMember(datum, type);
  const resolved = member ?? (Array.isArray(type) ? undefined : type);
  if (resolved !== undefined && typeof resolved === 'object' && !Array.isArray(resolved)) {
    if (resolved.type === 'record' && isObject(datum)) {
      for (const field of resolved.fields) {
        const value = datum[field.name];
        if (value !== undefined && value !== null) {
          inner.push(...(await bindInput(field.type, field.inputBinding, value, [], [field.name], evaluate)));
        }
      }
    } else if (resolved.type === 'array' && Array.isArray(datum)) {
      // Items of an array bound as a whole are rendered one by one unless joined by itemSeparator.
      const itemBinding =
        resolved.inputBinding ??
        (binding !== undefined && binding.itemSeparator === undefined && binding.valueFrom === undefined
          ? { ...literalBinding, shellQuote: binding.shellQuote }
          : undefined);
      for (const [n, item] of datum.entries()) {
        inner.push(...(await bindInput(resolved.items, itemBinding, item, [n], [], evaluate)));
      }
    }
  } else if (resolved === 'Any' && Array.isArray(datum) && binding !== undefined && binding.itemSeparator === undefined && binding.valueFrom === undefined) {
    for (const [n, item] of datum.entries()) {
      inner.push(...(await bindInput('Any', { ...literalBinding, shellQuote: binding.shellQuote }, item, [n], [], evaluate)));
    }
  }
  if (binding?.valueFrom !== undefined) inner = [];
  if (key === undefined || binding === undefined) return inner;
  return [...inner.map((b) => ({ ...b, key: [...key, ...b.key] })), { key, binding, datum }];
}

async function render(b: Binding, evaluate: Evaluate): Promise<string[]> {
  const { binding } = b;
  const value = binding.valueFrom !== undefined ? await evaluate(binding.valueFrom, b.datum) : b.datum;
  const prefix = binding.prefix;
  let values: CwlValue[];
  if (Array.isArray(value)) {
    if (binding.itemSeparator !== undefined && value.length > 0) values = [value.map(toText).join(binding.itemSeparator)];
    else if (binding.valueFrom !== undefined) return [...(prefix !== undefined ? [prefix] : []), ...value.map(toText)];
    else return prefix !== undefined && value.length > 0 ? [prefix] : [];
  } else if (isFileLike(value)) {
    values = [value];
  } else if (isObject(value)) {
    return prefix !== undefined ? [prefix] : [];
  } else if (value === true) {
    return prefix !== undefined ? [prefix] : [];
  } else if (value === false || value === null) {
    return [];
  } else {
    values = [value];
  }
  return values.flatMap((v) =>
    prefix === undefined ? [toText(v)] : binding.separate ? [prefix, toText(v)] : [prefix + toText(v)],
  );
}

export function toText(value: CwlValue): string {
  if (isFileLike(value)) return String(value.path ?? value.location ?? '');
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value);
  return stringifyJson(value);
}

/** Numbers in positional notation, never scientific (as the conformance suite expects). */
function formatNumber(n: number): string {
  const text = String(n);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(n.toExponential());
  if (!text.includes('e') || match === null) return text;
  const [, sign, lead, rest = '', exp] = match;
  const digits = lead + rest;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  return sign + (point >= digits.length ? digits + '0'.repeat(point - digits.length) : `${digits.slice(0, point)}.${digits.slice(point)}`);
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
