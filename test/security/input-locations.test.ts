/**
 * Where input files may come from, probed as a hostile second user would: another user's run
 * directory, host files, paths escaping the attachments, names of no attachment, defaults of
 * the document, and http(s) URLs naming the server's own loopback services. Each is a 400
 * that stores nothing and shows no server path; what the operator allows runs.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse, assertMatchesSpec } from '../helpers/spec.js';
import { multipartBody, type FormFile } from '../helpers/multipart.js';
import { getJson, submitWorkflow, waitForState } from '../e2e/helpers.js';
import { CLOSED_INPUT_POLICY, type InputPolicy } from '../../src/engine/cwl/input-locations.js';

const CAT_TOOL = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: cat
inputs:
  file: {type: File, inputBinding: {position: 1}}
outputs:
  out: {type: stdout}
stdout: out.txt
`;

interface RunLog {
  state: string;
  outputs: Record<string, { location: string }>;
  run_log: { system_logs?: string[] };
}

async function submit(app: TestApp, auth: string, params: Record<string, unknown>, files: readonly FormFile[] = [{ name: 'cat.cwl', content: CAT_TOOL }]) {
  const { payload, headers } = await multipartBody(
    { workflow_type: 'CWL', workflow_type_version: 'v1.2', workflow_url: 'cat.cwl', workflow_params: JSON.stringify(params) },
    files,
  );
  return app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
}

function runDirs(app: TestApp): string[] {
  const runsDir = path.join(app.database.dataDir, 'runs');
  return fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
}

async function outputText(app: TestApp, auth: string, runId: string): Promise<string> {
  const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
  assertMatchesSpec('RunLog', log);
  const response = await app.app.inject({ url: new URL(log.outputs.out.location).pathname, headers: { authorization: auth } });
  return response.body;
}

/** A local HTTP server for the test: `/x` is a small file, `/big` a large one, `/redirect` leads to `/x`, `/to-file` to a host file. */
async function fileServer(t: TestContext): Promise<string> {
  const server = http.createServer((request, response) => {
    if (request.url === '/redirect') {
      response.writeHead(302, { location: '/x' }).end();
    } else if (request.url === '/to-file') {
      response.writeHead(302, { location: 'file:///etc/passwd' }).end();
    } else if (request.url === '/x') {
      response.end('remote text\n');
    } else if (request.url === '/big') {
      response.end('y'.repeat(64 * 1024));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('file inputs outside the run and names of no attachment are 400s that store nothing and name no server path', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  const aliceRun = await submitWorkflow(app, alice.auth, 'cat.cwl', { file: { class: 'File', location: 'secret.txt' } }, [
    { name: 'cat.cwl', content: CAT_TOOL },
    { name: 'secret.txt', content: 'alice only\n' },
  ]);
  assert.equal(await waitForState(app, alice.auth, aliceRun), 'COMPLETE');
  const aliceFile = path.join(app.database.dataDir, 'runs', aliceRun, 'attachments', 'secret.txt');
  assert.ok(fs.existsSync(aliceFile));

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['another user\'s run (file://)', { class: 'File', location: `file://${aliceFile}` }, /inputs\.file: File ".*secret\.txt" is not under a directory the server allows/],
    ['another user\'s run (path)', { class: 'File', path: aliceFile }, /inputs\.file: File ".*secret\.txt" is not under a directory the server allows/],
    ['file:///etc/passwd', { class: 'File', location: 'file:///etc/passwd' }, /inputs\.file: File "file:\/\/\/etc\/passwd" is not under a directory the server allows/],
    ['absolute /etc/passwd', { class: 'File', location: '/etc/passwd' }, /inputs\.file: File "\/etc\/passwd" is not under/],
    ['relative ../x', { class: 'File', location: '../x' }, /inputs\.file: File "\.\.\/x" names no attachment of the run/],
    ['relative escape to the runs dir', { class: 'File', path: `../../${aliceRun}/attachments/secret.txt` }, /names no attachment of the run/],
    ['a name of no attachment', { class: 'File', location: 'missing.txt' }, /inputs\.file: File "missing\.txt" names no attachment of the run/],
    ['a secondary file outside', { class: 'File', location: 'cat.cwl', secondaryFiles: [{ class: 'File', location: 'file:///etc/shadow' }] }, /file:\/\/\/etc\/shadow/],
    ['a file URL naming another host', { class: 'File', location: 'file://elsewhere/etc/passwd' }, /is not a valid location/],
    ['a malformed URL', { class: 'File', location: 'http://[::1/x' }, /is not a valid location/],
    ['another scheme', { class: 'File', location: 'ftp://example.org/x' }, /is refused: only attachments/],
  ];
  for (const [name, file, message] of cases) {
    const response = await submit(app, bob.auth, { file });
    assertErrorResponse(response, 400, message);
    if (!JSON.stringify(file).includes(app.database.dataDir)) assert.ok(!response.body.includes(app.database.dataDir), `${name}: ${response.body} shows a server path`);
    assert.ok(!response.body.includes('.incoming'), `${name}: ${response.body} shows a staging path`);
  }
  assert.deepEqual(runDirs(app), [aliceRun]);
  const { runs } = await getJson<{ runs: unknown[] }>(app, bob.auth, '/runs');
  assert.deepEqual(runs, []);
});

test('a document default naming a host file is refused like an input', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('bob');
  const tool = CAT_TOOL.replace('file: {type: File, inputBinding: {position: 1}}', 'file: {type: File, inputBinding: {position: 1}, default: {class: File, location: "file:///etc/passwd"}}');
  const workflow = `cwlVersion: v1.2
class: Workflow
inputs: {}
outputs:
  out: {type: File, outputSource: step/out}
steps:
  step:
    run: cat.cwl
    in:
      file: {default: {class: File, path: ../../../../etc/hostname}}
    out: [out]
`;
  const response = await submit(app, auth, {}, [{ name: 'cat.cwl', content: tool }]);
  assertErrorResponse(response, 400, /default of input file: File "file:\/\/\/etc\/passwd" is not under a directory the server allows/);
  const { payload, headers } = await multipartBody({ workflow_type: 'CWL', workflow_type_version: 'v1.2', workflow_url: 'main.cwl', workflow_params: '{}' }, [
    { name: 'main.cwl', content: workflow },
    { name: 'cat.cwl', content: CAT_TOOL },
  ]);
  const nested = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
  assertErrorResponse(nested, 400, /default of step step input file: File "\.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname" names no attachment/);
  assert.deepEqual(runDirs(app), []);
});

test('a file under an operator-allowed input directory is accepted and runs', async (t) => {
  const allowed = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-allowed-'));
  t.after(() => fs.rmSync(allowed, { recursive: true, force: true }));
  fs.writeFileSync(path.join(allowed, 'shared.txt'), 'shared data\n');
  const app = await buildTestApp(t, { engine: true, inputPolicy: { ...CLOSED_INPUT_POLICY, allowedInputDirs: [allowed] } });
  const { auth } = await app.addUser('alice');
  for (const file of [{ class: 'File', path: path.join(allowed, 'shared.txt') }, { class: 'File', location: `file://${allowed}/shared.txt` }]) {
    const runId = await submitWorkflow(app, auth, 'cat.cwl', { file }, [{ name: 'cat.cwl', content: CAT_TOOL }]);
    assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
    assert.equal(await outputText(app, auth, runId), 'shared data\n');
  }
  // A symlink inside the allowed directory does not lead out of it.
  fs.symlinkSync('/etc/passwd', path.join(allowed, 'link'));
  assertErrorResponse(await submit(app, auth, { file: { class: 'File', path: path.join(allowed, 'link') } }), 400, /is not under a directory/);
  assertErrorResponse(await submit(app, auth, { file: { class: 'File', path: path.join(allowed, 'nothing.txt') } }), 400, /does not exist/);
});

test('http inputs are downloaded into the run when the operator allows private addresses', async (t) => {
  const base = await fileServer(t);
  const policy: InputPolicy = { ...CLOSED_INPUT_POLICY, allowPrivateInputUrls: true };
  const app = await buildTestApp(t, { engine: true, inputPolicy: policy });
  const { auth } = await app.addUser('alice');
  for (const location of [`${base}/x`, `${base}/redirect`]) {
    const runId = await submitWorkflow(app, auth, 'cat.cwl', { file: { class: 'File', location } }, [{ name: 'cat.cwl', content: CAT_TOOL }]);
    assert.equal(await waitForState(app, auth, runId), 'COMPLETE', JSON.stringify((await getJson<RunLog>(app, auth, `/runs/${runId}`)).run_log));
    assert.equal(await outputText(app, auth, runId), 'remote text\n');
  }
  const failures: [string, RegExp][] = [
    ['/nothing', /inputs\.file: cannot download http:\/\/127\.0\.0\.1:\d+\/nothing: the server answered HTTP 404/],
    ['/to-file', /inputs\.file: cannot download http:\/\/127\.0\.0\.1:\d+\/to-file: redirected to a file: URL/],
  ];
  for (const [name, message] of failures) {
    const runId = await submitWorkflow(app, auth, 'cat.cwl', { file: { class: 'File', location: `${base}${name}` } }, [{ name: 'cat.cwl', content: CAT_TOOL }]);
    assert.equal(await waitForState(app, auth, runId), 'SYSTEM_ERROR');
    const log = await getJson<RunLog>(app, auth, `/runs/${runId}`);
    assert.match(log.run_log.system_logs?.join('\n') ?? '', message);
  }
});

test('http inputs naming loopback addresses are refused by default, and the size limit holds', async (t) => {
  const base = await fileServer(t);
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('bob');
  for (const location of [`${base}/x`, 'http://localhost:5432/', 'http://[::1]/x', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:127.0.0.1]/x']) {
    const response = await submit(app, auth, { file: { class: 'File', location } });
    assertErrorResponse(response, 400, /inputs\.file: File ".*" is refused: host .* has the loopback, link-local or private address/);
  }
  const lsTool = 'cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: ls\ninputs:\n  file: {type: Directory, inputBinding: {position: 1}}\noutputs: {}\n';
  const directory = await submit(app, auth, { file: { class: 'Directory', location: 'https://example.org/d/' } }, [{ name: 'cat.cwl', content: lsTool }]);
  assertErrorResponse(directory, 400, /http\(s\) inputs must be Files/);
  assert.deepEqual(runDirs(app), []);

  const small = await buildTestApp(t, { engine: true, inputPolicy: { ...CLOSED_INPUT_POLICY, allowPrivateInputUrls: true, maxInputBytes: 1000 } });
  const alice = await small.addUser('alice');
  const runId = await submitWorkflow(small, alice.auth, 'cat.cwl', { file: { class: 'File', location: `${base}/big` } }, [{ name: 'cat.cwl', content: CAT_TOOL }]);
  assert.equal(await waitForState(small, alice.auth, runId), 'SYSTEM_ERROR');
  const log = await getJson<RunLog>(small, alice.auth, `/runs/${runId}`);
  assert.match(log.run_log.system_logs?.join('\n') ?? '', /cannot download .*\/big: larger than the server's limit of 1000 bytes \(WES_MAX_INPUT_BYTES\)/);
  assert.deepEqual(fs.readdirSync(path.join(small.database.dataDir, 'runs', runId, 'downloads', '0')), []);
});

test('service-info lists the file, http and https protocols', async (t) => {
  const app = await buildTestApp(t);
  const info = await app.app.inject({ url: '/ga4gh/wes/v1/service-info' });
  assert.deepEqual((info.json() as { supported_filesystem_protocols: string[] }).supported_filesystem_protocols, ['file', 'http', 'https']);
});
