/**
 * A run's expressions cannot freeze or bloat the server (issue 6, "The server stays responsive
 * whatever a run does"), each case as it was found: `while(true){}`, a scatter of three of them,
 * 1,000 × `Array(1e6).join` (a built-in QuickJS's interrupt handler never sees), and an
 * allocate-until-OOM expression. Each run ends EXECUTOR_ERROR naming the step and the limit;
 * meanwhile `GET /service-info`, over real HTTP, answers in under 1 s every time; after the
 * OOM expression the server process's RSS has not grown by more than 200 MB.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { closeSandbox, configureSandbox } from '../../src/engine/index.js';
import { getJson, submitWorkflow, waitForState } from '../e2e/helpers.js';

// A short deadline keeps the file quick; the default (20 s) behaves the same.
const TIMEOUT_MS = 3000;
const MEMORY_BYTES = 64 * 1024 * 1024;
const LATENCY_BOUND_MS = 1000;

before(() => configureSandbox({ timeoutMs: TIMEOUT_MS, memoryBytes: MEMORY_BYTES }));
after(() => closeSandbox());

function expressionTool(expression: string): string {
  return `cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs:
  x: {type: int, default: 0}
outputs:
  out: int
expression: ${JSON.stringify(expression)}
`;
}

function scatterOf(expression: string): string {
  return `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}, InlineJavascriptRequirement: {}}
inputs:
  xs: "int[]"
outputs:
  outs: {type: "int[]", outputSource: spin/out}
steps:
  spin:
    run:
${expressionTool(expression).replace(/^/gm, '      ')}
    scatter: x
    in: {x: xs}
    out: [out]
`;
}

interface RunLog {
  state: string;
  run_log: { system_logs?: string[] };
}

/** Polls GET /service-info over HTTP until `done` settles; returns every latency seen. */
async function serviceInfoLatencies(app: TestApp, done: Promise<unknown>): Promise<number[]> {
  const address = await app.app.listen({ host: '127.0.0.1', port: 0 });
  const latencies: number[] = [];
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  while (!finished) {
    const started = performance.now();
    const response = await fetch(`${address}/ga4gh/wes/v1/service-info`);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    latencies.push(performance.now() - started);
    await delay(50);
  }
  return latencies;
}

async function runHostile(t: Parameters<typeof buildTestApp>[0], document: string, params: Record<string, unknown>) {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('mallory');
  const runId = await submitWorkflow(app, auth, 'main.cwl', params, [{ name: 'main.cwl', content: document }]);
  const finished = waitForState(app, auth, runId);
  const latencies = await serviceInfoLatencies(app, finished);
  const state = await finished;
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  return { state, systemLogs: (log.run_log.system_logs ?? []).join('\n'), latencies };
}

function assertResponsive(latencies: readonly number[]): void {
  assert.ok(latencies.length >= 3, `only ${latencies.length} probes`);
  const slowest = Math.max(...latencies);
  assert.ok(slowest < LATENCY_BOUND_MS, `GET /service-info took ${slowest.toFixed(0)} ms while the run was active`);
}

test('while(true){} fails its step at the deadline; the API answers throughout', async (t) => {
  const { state, systemLogs, latencies } = await runHostile(t, expressionTool('${ while (true) {} }'), {});
  assertResponsive(latencies);
  assert.equal(state, 'EXECUTOR_ERROR');
  assert.match(systemLogs, /step main.cwl: expression while \(true\) \{\} exceeded the 3 s time limit/);
});

test('a scatter of three while(true){} fails; the API answers throughout', async (t) => {
  const { state, systemLogs, latencies } = await runHostile(t, scatterOf('${ while (true) {} }'), { xs: [1, 2, 3] });
  assertResponsive(latencies);
  assert.equal(state, 'EXECUTOR_ERROR');
  assert.match(systemLogs, /step spin \(element \d\): expression while \(true\) \{\} exceeded the 3 s time limit/);
});

test('1,000 × Array(1e6).join is stopped at the deadline, not after it', async (t) => {
  const started = Date.now();
  const { state, systemLogs, latencies } = await runHostile(
    t,
    expressionTool('${ for (var i = 0; i < 1000; i++) Array(1e6).join("x"); return 1; }'),
    {},
  );
  assertResponsive(latencies);
  assert.equal(state, 'EXECUTOR_ERROR');
  assert.match(systemLogs, /exceeded the 3 s time limit/);
  // Generous: the deadline plus run start-up and polling; QuickJS alone runs this for ~30 s.
  assert.ok(Date.now() - started < TIMEOUT_MS + 10_000, `the run took ${Date.now() - started} ms`);
});

test('an allocate-until-OOM expression fails with the memory limit and leaves the server no larger', async (t) => {
  const rssBefore = process.memoryUsage().rss;
  const { state, systemLogs, latencies } = await runHostile(
    t,
    expressionTool('${ var a = []; while (true) a.push(new Array(1e5).fill(a.length)); }'),
    {},
  );
  assertResponsive(latencies);
  await delay(500); // the retired worker's memory is released once its thread has exited
  const grownMb = (process.memoryUsage().rss - rssBefore) / (1024 * 1024);
  assert.ok(grownMb < 200, `RSS grew by ${grownMb.toFixed(0)} MB`);
  assert.equal(state, 'EXECUTOR_ERROR');
  assert.match(systemLogs, /step main.cwl: expression .* exceeded the 64 MiB memory limit/);
});
