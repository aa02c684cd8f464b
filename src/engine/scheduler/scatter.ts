/**
 * Scatter as pure data: which input object each element job gets (dotproduct,
 * nested_crossproduct, flat_crossproduct; elements numbered flat, row-major), and how the
 * element outputs are gathered back (nested arrays for nested_crossproduct).
 */
import type { CwlObject, CwlValue } from '../values/cwl-value.js';

export interface ScatterPlan {
  readonly elements: readonly CwlObject[];
  /** Dimensions for nested_crossproduct, else a single dimension. */
  readonly shape: readonly number[];
}

export class ScatterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScatterError';
  }
}

export function planScatter(inputs: CwlObject, scatter: readonly string[], method: string | undefined): ScatterPlan {
  const lists = scatter.map((name) => {
    const value = inputs[name];
    if (!Array.isArray(value)) throw new ScatterError(`scatter input ${name} is not an array`);
    return value;
  });
  if (scatter.length === 1 || method === undefined || method === 'dotproduct') {
    const length = lists[0]?.length ?? 0;
    if (lists.some((l) => l.length !== length)) throw new ScatterError(`dotproduct scatter over arrays of different lengths`);
    const elements = Array.from({ length }, (_, i) => withValues(inputs, scatter, lists.map((l) => l[i])));
    return { elements, shape: [length] };
  }
  let combos: CwlValue[][] = [[]];
  for (const list of lists) combos = combos.flatMap((prefix) => list.map((v) => [...prefix, v]));
  const elements = combos.map((values) => withValues(inputs, scatter, values));
  return { elements, shape: method === 'nested_crossproduct' ? lists.map((l) => l.length) : [elements.length] };
}

function withValues(inputs: CwlObject, names: readonly string[], values: readonly CwlValue[]): CwlObject {
  const out: CwlObject = { ...inputs };
  names.forEach((name, i) => (out[name] = values[i]));
  return out;
}

/** Gathers per-element outputs into one output object of (possibly nested) arrays. */
export function gatherScatter(plan: ScatterPlan, results: readonly CwlObject[], outputIds: readonly string[]): CwlObject {
  const out: CwlObject = {};
  for (const id of outputIds) out[id] = nest(results.map((r) => r[id] ?? null), plan.shape);
  return out;
}

function nest(flat: CwlValue[], shape: readonly number[]): CwlValue[] {
  if (shape.length <= 1) return flat;
  const [, ...inner] = shape;
  const size = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), inner));
}
