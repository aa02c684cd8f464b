/**
 * A scatter's gathered outputs are read back from the job rows, a batch of 1,000 at a time,
 * rather than kept in the server's memory: end to end over HTTP on both databases, their order
 * across batches, elements skipped by `when`, a downstream step that reads the whole array,
 * nested_crossproduct's nesting, and the output type checked element by element.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp } from '../helpers/test-app.js';
import { getJson, submitWorkflow, waitForState } from './helpers.js';

const DOUBLE = `cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs: {n: int}
outputs: {out: int}
expression: '$({out: inputs.n * 2})'
`;
const SUM = `cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs: {values: {type: {type: array, items: ['null', int]}}}
outputs: {out: int}
expression: '$({out: inputs.values.reduce(function (a, v) { return a + (v === null ? 0 : v); }, 0)})'
`;
const PAIR = `cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs: {x: int, y: string}
outputs: {out: string}
expression: '$({out: inputs.x + "-" + inputs.y})'
`;

function workflow(doubledType: string): string {
  return `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}, InlineJavascriptRequirement: {}}
inputs:
  ns: int[]
  xs: int[]
  ys: string[]
outputs:
  doubled: {type: ${doubledType}, outputSource: double/out}
  total: {type: int, outputSource: sum/out}
  grid: {type: {type: array, items: {type: array, items: string}}, outputSource: pair/out}
steps:
  double:
    run: double.cwl
    scatter: n
    in: {n: ns}
    when: $(inputs.n % 7 != 0)
    out: [out]
  sum:
    run: sum.cwl
    in: {values: double/out}
    out: [out]
  pair:
    run: pair.cwl
    scatter: [x, y]
    scatterMethod: nested_crossproduct
    in: {x: xs, y: ys}
    out: [out]
`;
}

const FILES = [
  { name: 'double.cwl', content: DOUBLE },
  { name: 'sum.cwl', content: SUM },
  { name: 'pair.cwl', content: PAIR },
];

test('a 2,200-element scatter gathers from the store in element order, skipped elements null, read whole by the next step', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const ns = Array.from({ length: 2200 }, (_, i) => i);
  const files = [...FILES, { name: 'wf.cwl', content: workflow("{type: array, items: ['null', int]}") }];
  const runId = await submitWorkflow(app, auth, 'wf.cwl', { ns, xs: [1, 2], ys: ['a', 'b', 'c'] }, files);
  const state = await waitForState(app, auth, runId);
  const run = await getJson<{ state: string; outputs: Record<string, unknown>; run_log: { system_logs?: string[] } }>(app, auth, `/runs/${runId}`);
  assert.equal(state, 'COMPLETE', JSON.stringify(run.run_log));
  const doubled = ns.map((n) => (n % 7 === 0 ? null : n * 2));
  assert.deepEqual(run.outputs.doubled, doubled);
  assert.equal(run.outputs.total, doubled.reduce<number>((a, v) => a + (v ?? 0), 0));
  assert.deepEqual(run.outputs.grid, [
    ['1-a', '1-b', '1-c'],
    ['2-a', '2-b', '2-c'],
  ]);
});

test('a gathered output that does not match its type fails the run, naming the output', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  // Element 0 is skipped by `when`: its null is not an int.
  const files = [...FILES, { name: 'wf.cwl', content: workflow("'int[]'") }];
  const runId = await submitWorkflow(app, auth, 'wf.cwl', { ns: Array.from({ length: 30 }, (_, i) => i), xs: [1], ys: ['a'] }, files);
  assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');
  const run = await getJson<{ outputs: Record<string, unknown>; run_log: { system_logs?: string[]; stderr?: string } }>(app, auth, `/runs/${runId}`);
  assert.deepEqual(run.outputs, {});
  assert.match(JSON.stringify(run.run_log), /output doubled\[0\]: expected int, got null/);
});
