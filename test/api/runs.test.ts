/** RunWorkflow, GetRunLog, GetRunStatus, ListRuns and CancelRun over HTTP, against the spec. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse, assertMatchesSpec } from '../helpers/spec.js';
import { ECHO_TOOL, multipartBody, runFields, type FormFile } from '../helpers/multipart.js';

async function submit(app: TestApp, auth: string, fields: Record<string, string>, files: readonly FormFile[] = []) {
  const { payload, headers } = await multipartBody(fields, files);
  return app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
}

function runsDirEntries(app: TestApp): string[] {
  const dir = path.join(app.database.dataDir, 'runs');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

test('a submitted run is stored with its attachments and echoed back as a RunLog', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('alice');
  const response = await submit(app, auth, runFields(), [
    { name: 'echo.cwl', content: ECHO_TOOL },
    { name: 'data/inputs/a.txt', content: 'A' },
  ]);
  assert.equal(response.statusCode, 200, response.body);
  assertMatchesSpec('RunId', response.json());
  const runId = (response.json() as { run_id: string }).run_id;
  assert.match(runId, /^[0-9a-f-]{36}$/);
  const runDir = path.join(app.database.dataDir, 'runs', runId);
  assert.equal(fs.readFileSync(path.join(runDir, 'attachments/data/inputs/a.txt'), 'utf8'), 'A');
  assert.equal(fs.readFileSync(path.join(runDir, 'attachments/echo.cwl'), 'utf8'), ECHO_TOOL);

  const log = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}`, headers: { authorization: auth } });
  assert.equal(log.statusCode, 200);
  const body = log.json() as Record<string, unknown>;
  assertMatchesSpec('RunLog', body);
  assert.equal(body.state, 'QUEUED');
  assert.equal(body.task_logs, null);
  assert.equal(body.task_logs_url, `http://localhost:80/ga4gh/wes/v1/runs/${runId}/tasks`);
  assert.deepEqual(body.request, {
    workflow_params: { message: 'hello' },
    workflow_type: 'CWL',
    workflow_type_version: 'v1.2',
    tags: { project: 'test' },
    workflow_url: 'echo.cwl',
  });

  const status = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/status`, headers: { authorization: auth } });
  assertMatchesSpec('RunStatus', status.json());
  assert.deepEqual(status.json(), { run_id: runId, state: 'QUEUED' });
});

test('every bad submission is a 400 naming the problem, and leaves nothing behind', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('alice');
  const tool = { name: 'echo.cwl', content: ECHO_TOOL };
  const cases: [string, Record<string, string>, FormFile[], RegExp][] = [
    ['no workflow_url', runFields({ workflow_url: '' }), [tool], /workflow_url is required/],
    ['unsupported type', runFields({ workflow_type: 'WDL' }), [tool], /workflow_type "WDL" is not supported/],
    ['unsupported version', runFields({ workflow_type_version: 'v2.0' }), [tool], /workflow_type_version "v2.0"/],
    ['params not JSON', runFields({ workflow_params: '{nope' }), [tool], /workflow_params is not valid JSON/],
    ['params an array', runFields({ workflow_params: '[1]' }), [tool], /workflow_params must be a JSON object/],
    ['tag not a string', runFields({ tags: '{"a":1}' }), [tool], /tags\.a must be a string/],
    ['unknown engine', runFields({ workflow_engine: 'nextflow' }), [tool], /workflow_engine "nextflow"/],
    ['engine version alone', runFields({ workflow_engine_version: '1' }), [tool], /without workflow_engine/],
    ['engine parameter', runFields({ workflow_engine_parameters: '{"x":"1"}' }), [tool], /unknown parameter "x"/],
    ['unknown field', { ...runFields(), colour: 'blue' }, [tool], /unknown form field "colour"/],
    ['file in another field', runFields(), [{ ...tool, field: 'inputs' }], /files go in workflow_attachment/],
    ['parent directory', runFields(), [tool, { name: '../evil.txt', content: 'x' }], /escapes the run directory/],
    ['nested parent', runFields(), [tool, { name: 'a/../../evil.txt', content: 'x' }], /escapes the run directory/],
    ['absolute path', runFields(), [tool, { name: '/etc/evil', content: 'x' }], /must be relative/],
    ['backslash', runFields(), [tool, { name: '..\\evil', content: 'x' }], /must use "\/"/],
    ['same name twice', runFields(), [tool, tool], /given twice/],
    ['file and dir clash', runFields(), [{ name: 'a', content: 'x' }, { name: 'a/b', content: 'y' }], /clashes/],
  ];
  for (const [name, fields, files, message] of cases) {
    const response = await submit(app, auth, fields, files);
    assertErrorResponse(response, 400, message);
    assert.deepEqual(runsDirEntries(app), [], `${name}: files left behind`);
  }
  const json = await app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload: runFields(), headers: { authorization: auth } });
  assertErrorResponse(json, 400, /multipart\/form-data/);
  for (const [contentType, body] of [['multipart/form-data; boundary=xyz', 'garbage'], ['multipart/form-data', '--x\r\n']]) {
    const malformed = await app.app.inject({
      method: 'POST',
      url: '/ga4gh/wes/v1/runs',
      payload: body,
      headers: { authorization: auth, 'content-type': contentType },
    });
    assertErrorResponse(malformed, 400, /malformed multipart/);
  }
  assert.deepEqual(runsDirEntries(app), []);
  const list = await app.app.inject({ url: '/ga4gh/wes/v1/runs', headers: { authorization: auth } });
  assert.deepEqual((list.json() as { runs: unknown[] }).runs, []);
});

test('an upload over the size limit is a 400 and is not kept', async (t) => {
  const app = await buildTestApp(t, { maxUploadBytes: 16 });
  const { auth } = await app.addUser('alice');
  const response = await submit(app, auth, runFields(), [{ name: 'echo.cwl', content: ECHO_TOOL }]);
  assertErrorResponse(response, 400);
  assert.deepEqual(runsDirEntries(app), []);
});

test('ListRuns pages the caller\'s runs newest first with tokens bound to the caller', async (t) => {
  const app = await buildTestApp(t);
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const response = await submit(app, alice.auth, runFields({ tags: JSON.stringify({ n: String(i) }) }), [
      { name: 'echo.cwl', content: ECHO_TOOL },
    ]);
    ids.push((response.json() as { run_id: string }).run_id);
  }
  await submit(app, bob.auth, runFields(), [{ name: 'echo.cwl', content: ECHO_TOOL }]);

  const seen: string[] = [];
  let token = '';
  let bobToken = '';
  do {
    app.queries.reset();
    const page = await app.app.inject({
      url: `/ga4gh/wes/v1/runs?page_size=2${token ? `&page_token=${encodeURIComponent(token)}` : ''}`,
      headers: { authorization: alice.auth },
    });
    assert.equal(page.statusCode, 200);
    assert.ok(app.queries.count <= 2, `ListRuns issued ${app.queries.count} queries`);
    const body = page.json() as { runs: { run_id: string; state: string; tags: Record<string, string> }[]; next_page_token: string };
    assertMatchesSpec('RunListResponse', body);
    for (const run of body.runs) {
      assert.equal(run.state, 'QUEUED');
      seen.push(run.run_id);
    }
    token = body.next_page_token;
  } while (token !== '');
  assert.deepEqual(seen, [...ids].reverse());

  const bobFirst = await app.app.inject({ url: '/ga4gh/wes/v1/runs?page_size=1', headers: { authorization: bob.auth } });
  assert.equal((bobFirst.json() as { runs: unknown[] }).runs.length, 1);
  const aliceFirst = await app.app.inject({ url: '/ga4gh/wes/v1/runs?page_size=1', headers: { authorization: alice.auth } });
  bobToken = (aliceFirst.json() as { next_page_token: string }).next_page_token;
  const foreign = await app.app.inject({
    url: `/ga4gh/wes/v1/runs?page_token=${encodeURIComponent(bobToken)}`,
    headers: { authorization: bob.auth },
  });
  assertErrorResponse(foreign, 400, /different listing/);
  for (const query of ['page_size=0', 'page_size=1001', 'page_size=abc', 'page_size=1.5', 'page_token=garbage']) {
    const response = await app.app.inject({ url: `/ga4gh/wes/v1/runs?${query}`, headers: { authorization: alice.auth } });
    assertErrorResponse(response, 400, /page_size|page_token/);
  }
});

test('another user\'s run is not found, exactly like a missing one', async (t) => {
  const app = await buildTestApp(t);
  const alice = await app.addUser('alice');
  const bob = await app.addUser('bob');
  const runId = ((await submit(app, alice.auth, runFields(), [{ name: 'echo.cwl', content: ECHO_TOOL }])).json() as { run_id: string }).run_id;
  const missing = '00000000-0000-4000-8000-000000000000';
  for (const [method, suffix] of [['GET', ''], ['GET', '/status'], ['POST', '/cancel'], ['GET', '/tasks'], ['GET', '/tasks/0'], ['GET', '/log']] as const) {
    const theirs = await app.app.inject({ method, url: `/ga4gh/wes/v1/runs/${runId}${suffix}`, headers: { authorization: bob.auth } });
    assertErrorResponse(theirs, 404, new RegExp(`run ${runId} not found`));
    const none = await app.app.inject({ method, url: `/ga4gh/wes/v1/runs/${missing}${suffix}`, headers: { authorization: bob.auth } });
    assertErrorResponse(none, 404, new RegExp(`run ${missing} not found`));
  }
  const stillQueued = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/status`, headers: { authorization: alice.auth } });
  assert.equal((stillQueued.json() as { state: string }).state, 'QUEUED');
});

test('cancelling a queued run makes it CANCELED; cancelling again changes nothing', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('alice');
  const runId = ((await submit(app, auth, runFields(), [{ name: 'echo.cwl', content: ECHO_TOOL }])).json() as { run_id: string }).run_id;
  for (let i = 0; i < 2; i++) {
    const cancel = await app.app.inject({ method: 'POST', url: `/ga4gh/wes/v1/runs/${runId}/cancel`, headers: { authorization: auth } });
    assert.equal(cancel.statusCode, 200);
    assertMatchesSpec('RunId', cancel.json());
    const log = (await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}`, headers: { authorization: auth } })).json() as {
      state: string;
      run_log: { end_time?: string };
    };
    assert.equal(log.state, 'CANCELED');
    assert.match(log.run_log.end_time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }
});
