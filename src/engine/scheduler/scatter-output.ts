/**
 * One output of a scattered step, gathered lazily. A finished element's outputs are not kept in
 * the heap when the host keeps them (the server's store has them in the job rows): a
 * 100,000-element scatter's File objects were most of the server's memory by the end of the
 * run. The array is read back in element order, a batch at a time, where it is used: whole
 * (materialize) when a step or an expression needs it, or batch by batch when it is a workflow
 * output written to outputs.json (it is a StreamedJsonArray), checked element by element.
 */
import { StreamedJsonArray } from '../../exact-json.js';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';

/** Element results [from, to): undefined for an element that gave none (skipped, failed). */
export type ElementOutputs = (from: number, to: number) => Promise<readonly (CwlObject | undefined)[]>;

/** What a process or step gives: plain values, or gathered scatter outputs not yet read. */
export type StepOutputs = Record<string, CwlValue | ScatterOutput>;

/** Elements read per call: one store query each. */
const READ_BATCH = 1_000;

export class ScatterOutput extends StreamedJsonArray {
  readonly #outputId: string;
  readonly #count: number;
  readonly #read: ElementOutputs;
  readonly #check: ((element: CwlValue, index: number) => void) | undefined;

  constructor(outputId: string, count: number, read: ElementOutputs, check?: (element: CwlValue, index: number) => void) {
    super();
    this.#outputId = outputId;
    this.#count = count;
    this.#read = read;
    this.#check = check;
  }

  /** The same array, each element passed to `check` (which throws to reject it) as it is read. */
  checkedBy(check: (element: CwlValue, index: number) => void): ScatterOutput {
    return new ScatterOutput(this.#outputId, this.#count, this.#read, check);
  }

  async *batches(): AsyncGenerator<CwlValue[]> {
    for (let from = 0; from < this.#count; from += READ_BATCH) {
      const results = await this.#read(from, Math.min(from + READ_BATCH, this.#count));
      // Array.from, not map: an element without results is a hole, which map would keep.
      const batch = Array.from(results, (result) => result?.[this.#outputId] ?? null);
      const check = this.#check;
      if (check !== undefined) batch.forEach((element, i) => check(element, from + i));
      yield batch;
    }
  }

  async materialize(): Promise<CwlValue[]> {
    const all: CwlValue[] = [];
    for await (const batch of this.batches()) for (const element of batch) all.push(element);
    return all;
  }
}

export async function materialized(value: CwlValue | ScatterOutput | undefined): Promise<CwlValue> {
  return value instanceof ScatterOutput ? value.materialize() : (value ?? null);
}

/** Plain values throughout, for callers that need the whole object (a subworkflow's scatter element, tests, the conformance runner). */
export async function materializeOutputs(outputs: StepOutputs): Promise<CwlObject> {
  const out: CwlObject = {};
  for (const [id, value] of Object.entries(outputs)) out[id] = await materialized(value);
  return out;
}
