/**
 * CWL details the official judge (cwltest) checks, end to end over HTTP on both databases:
 * integers beyond 2^53 come back digit for digit, `type: stdin` inputs, optional output
 * secondaryFiles, and a workflow_url whose first segment holds a colon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp } from '../helpers/test-app.js';
import { assertMatchesSpec } from '../helpers/spec.js';
import { multipartBody } from '../helpers/multipart.js';
import { getJson, submitWorkflow, waitForState } from './helpers.js';

const BIG = '4200000000000000000000000000000000000000000';

/** As v1.2's paramref_arguments_roundtrip: a record default echoed into cwl.output.json. */
const ROUNDTRIP_TOOL = `cwlVersion: v1.2
class: CommandLineTool
inputs:
  a_record:
    type:
      - "null"
      - type: record
        fields:
          fourth: long
          fifth: double
          sixth: double
    default:
      fourth: 4242424242
      fifth: ${BIG}
      sixth: -1000000000000000000000000000000000000000000
  given: double[]
arguments:
  - '{"same_record": $(inputs.a_record), "given": $(inputs.given), "line": "'
  - valueFrom: $(inputs.given[0])
    separate: false
  - '"}'
outputs:
  same_record:
    type:
      type: record
      fields:
        fourth: long
        fifth: double
        sixth: double
  given: double[]
  line: string
baseCommand: echo
stdout: cwl.output.json
`;

test('integers beyond 2^53 round-trip exactly through submit, command line, store and RunLog', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  // workflow_params written by hand: JSON.stringify could not write these digits.
  const params = '{"given": [12345678901234567890123, 1.5, -9007199254740993]}';
  const { payload, headers } = await multipartBody(
    { workflow_type: 'CWL', workflow_type_version: 'v1.2', workflow_url: 'roundtrip.cwl', workflow_params: params },
    [{ name: 'roundtrip.cwl', content: ROUNDTRIP_TOOL }],
  );
  const submitted = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
  assert.equal(submitted.statusCode, 200, submitted.body);
  const runId = (submitted.json() as { run_id: string }).run_id;
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const response = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}`, headers: { authorization: auth } });
  assertMatchesSpec('RunLog', response.json());
  const outputs = /"outputs":(\{.*\})\}$/.exec(response.body)?.[1] ?? '';
  assert.match(outputs, new RegExp(`"fifth":${BIG}[,}]`));
  assert.match(outputs, /"sixth":-1000000000000000000000000000000000000000000[,}]/);
  assert.match(outputs, /"fourth":4242424242[,}]/);
  assert.match(outputs, /"given":\[12345678901234567890123,1.5,-9007199254740993\]/);
  assert.match(outputs, /"line":" 12345678901234567890123 "/);
  assert.match(response.body, /"workflow_params":\{"given":\[12345678901234567890123,1.5,-9007199254740993\]\}/);
});

test('an input of type stdin is a File fed to the tool\'s standard input', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const tool = `cwlVersion: v1.2
class: CommandLineTool
inputs:
  file1: stdin
outputs:
  output:
    type: File
    outputBinding: { glob: output }
baseCommand: [cat]
stdout: output
`;
  const runId = await submitWorkflow(app, auth, 'cat-tool-shortcut.cwl', { file1: { class: 'File', location: 'whale.txt' } }, [
    { name: 'cat-tool-shortcut.cwl', content: tool },
    { name: 'whale.txt', content: 'a whale\n' },
  ]);
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const log = await getJson<{ outputs: { output: { location: string; size: number } } }>(app, auth, `/runs/${runId}`);
  assert.equal(log.outputs.output.size, 8);
  const body = await app.app.inject({ url: new URL(log.outputs.output.location).pathname, headers: { authorization: auth } });
  assert.equal(body.body, 'a whale\n');
});

test('output secondaryFiles are optional unless required', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const tool = (required: string) => `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [touch, output.txt]
inputs: {}
outputs:
  out:
    type: File
    outputBinding: { glob: output.txt }
    secondaryFiles: [{pattern: .idx${required}}, .present?]
`;
  const optional = await submitWorkflow(app, auth, 'tool.cwl', {}, [{ name: 'tool.cwl', content: tool('') }]);
  assert.equal(await waitForState(app, auth, optional), 'COMPLETE');
  const log = await getJson<{ outputs: { out: { basename: string; secondaryFiles?: unknown[] } } }>(app, auth, `/runs/${optional}`);
  assert.equal(log.outputs.out.basename, 'output.txt');
  assert.deepEqual(log.outputs.out.secondaryFiles ?? [], []);

  const required = await submitWorkflow(app, auth, 'tool.cwl', {}, [{ name: 'tool.cwl', content: tool(', required: true') }]);
  assert.notEqual(await waitForState(app, auth, required), 'COMPLETE');
  const failed = await getJson<{ run_log: { system_logs?: string[] } }>(app, auth, `/runs/${required}`);
  assert.match(failed.run_log.system_logs?.join('\n') ?? '', /secondary file output\.txt\.idx of output output\.txt is missing/);
});

test('a workflow_url naming an attachment with a colon in its first segment is that attachment', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const tool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [echo, hello]
inputs: {}
outputs:
  out: stdout
stdout: re:sult
`;
  const runId = await submitWorkflow(app, auth, 'colon:test.cwl', {}, [{ name: 'colon:test.cwl', content: tool }]);
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const log = await getJson<{ outputs: { out: { basename: string; size: number } } }>(app, auth, `/runs/${runId}`);
  assert.deepEqual([log.outputs.out.basename, log.outputs.out.size], ['re:sult', 6]);
});
