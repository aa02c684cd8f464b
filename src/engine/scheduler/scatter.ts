/**
 * Scatter as data: which input object each element job gets (dotproduct, nested_crossproduct,
 * flat_crossproduct; elements numbered flat, row-major), made on demand so a 100,000-element
 * plan holds only its input lists; and the gathered outputs, read back in element order from
 * wherever the element results are kept (see scatter-output.ts).
 */
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import { ScatterOutput, type ElementOutputs, type StepOutputs } from './scatter-output.js';

export interface ScatterPlan {
  readonly count: number;
  /** Dimensions for nested_crossproduct, else a single dimension. */
  readonly shape: readonly number[];
  /** Element e's input object. */
  element(e: number): CwlObject;
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
    return { count: length, shape: [length], element: (e) => withValues(inputs, scatter, lists.map((l) => l[e])) };
  }
  const count = lists.reduce((product, l) => product * l.length, 1);
  // Row-major: the last list varies fastest.
  const element = (e: number): CwlObject => {
    const values = new Array<CwlValue>(lists.length);
    let rest = e;
    for (let k = lists.length - 1; k >= 0; k--) {
      values[k] = lists[k][rest % lists[k].length];
      rest = Math.floor(rest / lists[k].length);
    }
    return withValues(inputs, scatter, values);
  };
  return { count, shape: method === 'nested_crossproduct' ? lists.map((l) => l.length) : [count], element };
}

function withValues(inputs: CwlObject, names: readonly string[], values: readonly CwlValue[]): CwlObject {
  const out: CwlObject = { ...inputs };
  names.forEach((name, i) => (out[name] = values[i]));
  return out;
}

/**
 * The step's outputs, each an array over the elements: flat ones stay where the results are
 * (a ScatterOutput, read when used); nested_crossproduct's nested arrays are built now.
 */
export async function gatherScatter(plan: ScatterPlan, read: ElementOutputs, outputIds: readonly string[]): Promise<StepOutputs> {
  const out: StepOutputs = {};
  for (const id of outputIds) {
    const gathered = new ScatterOutput(id, plan.count, read);
    out[id] = plan.shape.length <= 1 ? gathered : nest(await gathered.materialize(), plan.shape);
  }
  return out;
}

function nest(flat: CwlValue[], shape: readonly number[]): CwlValue[] {
  if (shape.length <= 1) return flat;
  const [, ...inner] = shape;
  const size = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), inner));
}
