/**
 * Combining the values that flow into one sink: linkMerge (merge_nested, merge_flattened)
 * when several sources feed it, then pickValue (first_non_null, the_only_non_null,
 * all_non_null) for conditional branches.
 */
import type { CwlValue } from '../values/cwl-value.js';

export class MergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MergeError';
  }
}

export function mergeSources(
  values: readonly CwlValue[],
  linkMerge: string | undefined,
  pickValue: string | undefined,
  sink: string,
): CwlValue {
  let merged: CwlValue;
  if (values.length === 1 && linkMerge === undefined) merged = values[0];
  else if (linkMerge === 'merge_flattened') merged = values.flatMap((v) => (Array.isArray(v) ? v : [v]));
  else merged = [...values];
  return pickValue === undefined ? merged : pick(merged, pickValue, sink);
}

function pick(value: CwlValue, method: string, sink: string): CwlValue {
  const list = Array.isArray(value) ? value : [value];
  const present = list.filter((v) => v !== null);
  switch (method) {
    case 'first_non_null':
      if (present.length === 0) throw new MergeError(`${sink}: first_non_null found only null values`);
      return present[0];
    case 'the_only_non_null':
      if (present.length !== 1) throw new MergeError(`${sink}: the_only_non_null found ${present.length} non-null values`);
      return present[0];
    case 'all_non_null':
      return present;
    default:
      throw new MergeError(`${sink}: unknown pickValue ${method}`);
  }
}
