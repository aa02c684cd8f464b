/**
 * Workflow documents cannot stall the server (issue 6): a few hundred bytes of nested YAML
 * aliases ("billion laughs") and documents nested thousands deep are refused at submission
 * with a 400 naming the limit, answered quickly, whether the document is the workflow
 * itself, a tool it runs, or a `$import` (which cwl-ts-auto would parse with js-yaml).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse } from '../helpers/spec.js';
import { ECHO_TOOL, multipartBody, runFields, type FormFile } from '../helpers/multipart.js';

// A safety bound, not a benchmark: unbounded, these documents stalled the server 58 s and > 120 s.
const ANSWER_BOUND_MS = 5000;

/** Nine levels of nine aliases each: 9^9 (387 million) nodes once expanded. */
function aliasBomb(key: string): string {
  const lines = [`${key}:`, '  - &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) lines.push(`  - &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]`);
  return lines.join('\n');
}

async function submitTimed(app: TestApp, auth: string, workflowUrl: string, files: readonly FormFile[], params = '{}') {
  const { payload, headers } = await multipartBody(runFields({ workflow_url: workflowUrl, workflow_params: params }), files);
  const started = Date.now();
  const response = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
  const elapsed = Date.now() - started;
  assert.ok(elapsed < ANSWER_BOUND_MS, `answered after ${elapsed} ms`);
  return response;
}

const TOOL_HEAD = 'cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: []\noutputs: []\n';

test('a YAML alias bomb as the workflow document is a 400 naming the limit', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('mallory');
  const document = `${TOOL_HEAD}${aliasBomb('hints')}\n`;
  assert.ok(Buffer.byteLength(document) < 600);
  const response = await submitTimed(app, auth, 'bomb.cwl', [{ name: 'bomb.cwl', content: document }]);
  assertErrorResponse(response, 400, /bomb\.cwl: YAML alias expansion exceeds 100000 nodes/);
});

test('an alias bomb in a tool that a workflow step runs is a 400', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('mallory');
  const workflow = 'cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\nsteps:\n  s:\n    run: tool.cwl\n    in: []\n    out: []\n';
  const response = await submitTimed(app, auth, 'main.cwl', [
    { name: 'main.cwl', content: workflow },
    { name: 'tool.cwl', content: `${TOOL_HEAD}${aliasBomb('hints')}\n` },
  ]);
  assertErrorResponse(response, 400, /tool\.cwl: YAML alias expansion exceeds 100000 nodes/);
});

test('an alias bomb behind $import is stopped before cwl-ts-auto parses it', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('mallory');
  const tool = 'cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs:\n  $import: inputs.yml\noutputs: []\n';
  const response = await submitTimed(app, auth, 'tool.cwl', [
    { name: 'tool.cwl', content: tool },
    { name: 'inputs.yml', content: `${aliasBomb('x')}\n` },
  ]);
  assertErrorResponse(response, 400, /YAML alias expansion exceeds 100000 nodes/);
});

test('a document nested 5,000 deep is a 400 naming the limit, directly or behind $import', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('mallory');
  const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  const direct = await submitTimed(app, auth, 'deep.cwl', [{ name: 'deep.cwl', content: `${TOOL_HEAD}hints: ${deep}\n` }]);
  assertErrorResponse(direct, 400, /deep\.cwl: YAML nesting exceeds 128 levels/);
  const tool = 'cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs:\n  $import: inputs.yml\noutputs: []\n';
  const imported = await submitTimed(app, auth, 'tool.cwl', [
    { name: 'tool.cwl', content: tool },
    { name: 'inputs.yml', content: `x: ${deep}\n` },
  ]);
  assertErrorResponse(imported, 400, /YAML nesting exceeds 128 levels/);
});

test('anchors and aliases within the limits still work', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const tool = `${ECHO_TOOL}label: &label "echo tool"\ndoc: *label\n`;
  const response = await submitTimed(app, auth, 'echo.cwl', [{ name: 'echo.cwl', content: tool }], '{"message": "hi"}');
  assert.equal(response.statusCode, 200, response.body);
});
