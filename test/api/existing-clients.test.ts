/**
 * The API as the clients people already have drive it, re-enacted in our own TypeScript:
 * workflow-service's `wes-client` (Python requests: every form field sent as a file part named
 * after it; `--wait` polls /status, then reads run_log.stderr by URL and prints the outputs;
 * `--log` fetches run_log.stderr) and sapporo's client/tests (plain fields, workflow_engine
 * "cwltool", workflow_engine_parameters, tags; checks run_log.exit_code and filters runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse, assertMatchesSpec } from '../helpers/spec.js';
import { ECHO_TOOL, multipartBody, runFields } from '../helpers/multipart.js';
import { FAILING_TOOL, SCATTER_WORKFLOW, SLEEPING_TOOL } from '../e2e/workflows.js';
import { waitForState } from '../e2e/helpers.js';
import { ServerMetrics } from '../../src/metrics.js';

const API = '/ga4gh/wes/v1';

/** The body Python's requests builds from `files=[(name, value)…]`: each value a part with filename=name. */
function requestsStyleBody(parts: [string, string | { filename: string; content: string }][]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = 'a1b2c3d4e5f6';
  const chunks = parts.map(([name, value]) => {
    const filename = typeof value === 'string' ? name : value.filename;
    const content = typeof value === 'string' ? value : value.content;
    return `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\n\r\n${content}\r\n`;
  });
  return {
    payload: Buffer.from(`${chunks.join('')}--${boundary}--\r\n`),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

async function submit(app: TestApp, auth: string, body: { payload: Buffer; headers: Record<string, string> }) {
  return app.app.inject({ method: 'POST', url: `${API}/runs`, payload: body.payload, headers: { ...body.headers, authorization: auth } });
}

async function get(app: TestApp, auth: string, url: string) {
  const response = await app.app.inject({ url: url.startsWith('http') ? new URL(url).pathname : `${API}${url}`, headers: { authorization: auth } });
  assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
  return response;
}

test('wes-client: fields as file parts, --wait reads run_log.stderr and outputs, --log; exit codes of the run', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('wes-client');
  const response = await submit(
    app,
    auth,
    requestsStyleBody([
      ['workflow_params', JSON.stringify({ numbers: [1, 2, 3] })],
      ['workflow_type', 'CWL'],
      ['workflow_type_version', 'v1.2'],
      ['workflow_attachment', { filename: 'scatter.cwl', content: SCATTER_WORKFLOW }],
      ['workflow_url', 'scatter.cwl'],
    ]),
  );
  assert.equal(response.statusCode, 200, response.body);
  const { run_id: runId } = response.json() as { run_id: string };
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const runLog = (await get(app, auth, `/runs/${runId}`)).json() as {
    run_log: { stderr: string; stdout: string; exit_code: number; cmd: string[] };
    outputs: Record<string, unknown>;
  };
  assertMatchesSpec('RunLog', runLog);
  assert.equal(runLog.run_log.exit_code, 0);
  assert.ok(runLog.run_log.cmd.length > 0);
  assert.match(runLog.run_log.stderr, /^http:\/\//);
  assert.match((await get(app, auth, runLog.run_log.stderr)).body, /run complete/);
  assert.equal((runLog.outputs.outs as unknown[]).length, 3);
  // The dashboard's drawing of the workflow (an extension endpoint).
  const graph = (await get(app, auth, `/runs/${runId}/workflow-graph`)).json() as {
    nodes: { id: string; kind: string; scattered: boolean; taskId?: string }[];
    edges: [string, string][];
  };
  assert.deepEqual(graph.nodes.map((n) => [n.id, n.kind, n.scattered, n.taskId]), [
    ['in:numbers', 'input', false, undefined],
    ['step:echo', 'step', true, '1'],
    ['out:outs', 'output', false, undefined],
  ]);
  assert.deepEqual(graph.edges, [['in:numbers', 'step:echo'], ['step:echo', 'out:outs']]);

  const failed = await submit(
    app,
    auth,
    requestsStyleBody([
      ['workflow_params', '{}'],
      ['workflow_type', 'CWL'],
      ['workflow_type_version', 'v1.2'],
      ['workflow_attachment', { filename: 'fail.cwl', content: FAILING_TOOL }],
      ['workflow_url', 'fail.cwl'],
    ]),
  );
  const failedId = (failed.json() as { run_id: string }).run_id;
  assert.equal(await waitForState(app, auth, failedId), 'EXECUTOR_ERROR');
  const failedLog = (await get(app, auth, `/runs/${failedId}`)).json() as { run_log: { exit_code: number; stderr: string } };
  assertMatchesSpec('RunLog', failedLog);
  assert.equal(failedLog.run_log.exit_code, 3);
  assert.match((await get(app, auth, failedLog.run_log.stderr)).body, /EXECUTOR_ERROR/);
  const tasks = (await get(app, auth, `/runs/${failedId}/tasks`)).json() as { task_logs: { exit_code?: number; stderr?: string; cmd?: string[] }[] };
  const job = tasks.task_logs.find((task) => task.exit_code !== undefined);
  assert.equal(job?.exit_code, 3);
  assert.ok(job?.cmd);
  assert.match((await get(app, auth, job?.stderr ?? '')).body, /about to fail/);
});

test('sapporo: workflow_engine cwltool with engine parameters and tags, exit_code, runs filtered by state and tags', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('sapporo');
  const ids: string[] = [];
  for (const [project, message] of [['a', 'one'], ['b', 'two'], ['a', 'three']]) {
    const body = await multipartBody(
      runFields({
        workflow_engine: 'cwltool',
        workflow_engine_version: '3.1.20240508115724',
        workflow_engine_parameters: JSON.stringify({ max_jobs: '1' }),
        workflow_params: JSON.stringify({ message }),
        tags: JSON.stringify({ project, suite: 'sapporo' }),
      }),
      [{ name: 'echo.cwl', content: ECHO_TOOL }],
    );
    const response = await submit(app, auth, body);
    assert.equal(response.statusCode, 200, response.body);
    ids.push((response.json() as { run_id: string }).run_id);
  }
  for (const id of ids) assert.equal(await waitForState(app, auth, id), 'COMPLETE');
  const log = (await get(app, auth, `/runs/${ids[0]}`)).json() as { run_log: { exit_code: number }; request: Record<string, unknown> };
  assert.equal(log.run_log.exit_code, 0);
  assert.equal(log.request.workflow_engine, 'cwltool');
  assert.deepEqual(log.request.workflow_engine_parameters, { max_jobs: '1' });

  const listed = async (query: string) => {
    const body = (await get(app, auth, `/runs?${query}`)).json() as { runs: { run_id: string }[]; next_page_token: string };
    assertMatchesSpec('RunListResponse', body);
    return body;
  };
  assert.deepEqual((await listed('state=COMPLETE')).runs.map((r) => r.run_id), [...ids].reverse());
  assert.deepEqual((await listed('state=RUNNING')).runs, []);
  assert.deepEqual((await listed('tags=project:a')).runs.map((r) => r.run_id), [ids[2], ids[0]]);
  assert.deepEqual((await listed('tags=project=a&tags=suite=sapporo&state=COMPLETE')).runs.map((r) => r.run_id), [ids[2], ids[0]]);
  assert.deepEqual((await listed(`tags=${encodeURIComponent('{"project":"b"}')}`)).runs.map((r) => r.run_id), [ids[1]]);
  // Keyset pages of a filtered listing; the token belongs to that filter.
  const first = await listed('tags=suite=sapporo&page_size=2');
  assert.deepEqual(first.runs.map((r) => r.run_id), [ids[2], ids[1]]);
  const second = await listed(`tags=suite=sapporo&page_size=2&page_token=${encodeURIComponent(first.next_page_token)}`);
  assert.deepEqual(second.runs.map((r) => r.run_id), [ids[0]]);
  assert.equal(second.next_page_token, '');
  const foreign = await app.app.inject({
    url: `${API}/runs?page_token=${encodeURIComponent(first.next_page_token)}`,
    headers: { authorization: auth },
  });
  assertErrorResponse(foreign, 400);
  assertErrorResponse(await app.app.inject({ url: `${API}/runs?state=DONE`, headers: { authorization: auth } }), 400, /state "DONE"/);
  assertErrorResponse(await app.app.inject({ url: `${API}/runs?tags=novalue`, headers: { authorization: auth } }), 400, /name=value/);
  // Another user's tags are not the caller's.
  const other = await app.addUser('other');
  assert.deepEqual(((await get(app, other.auth, '/runs?tags=project=a')).json() as { runs: unknown[] }).runs, []);
});

test('workflow_engine: our engine, cwltool, toil and empty are accepted; others are a 400 naming the engine', async (t) => {
  const app = await buildTestApp(t, { launcher: { check: async () => undefined, start: () => undefined, cancel: () => undefined } });
  const { auth } = await app.addUser('alice');
  for (const engine of ['wes-server-cwl', 'cwltool', 'toil', '']) {
    const response = await submit(app, auth, await multipartBody(runFields({ workflow_engine: engine }), [{ name: 'echo.cwl', content: ECHO_TOOL }]));
    assert.equal(response.statusCode, 200, `${engine}: ${response.body}`);
  }
  const bad = await submit(app, auth, await multipartBody(runFields({ workflow_engine: 'nextflow' }), [{ name: 'echo.cwl', content: ECHO_TOOL }]));
  assertErrorResponse(bad, 400, /workflow_engine "nextflow"/);
});

test('workflow_engine_parameters: unknown ones are a 400 naming each, bad values a 400, job_time_limit is applied', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const post = async (parameters: Record<string, string>, tool = ECHO_TOOL, params = { message: 'hi' }) =>
    submit(
      app,
      auth,
      await multipartBody(runFields({ workflow_engine_parameters: JSON.stringify(parameters), workflow_params: JSON.stringify(params) }), [
        { name: 'echo.cwl', content: tool },
      ]),
    );
  assertErrorResponse(await post({ '--parallel': 'true', outdir: '/x', max_jobs: '2' }), 400, /unknown parameters "--parallel", "outdir"/);
  assertErrorResponse(await post({ max_jobs: 'many' }), 400, /max_jobs must be a non-negative integer/);
  assertErrorResponse(await post({ on_error: 'ignore' }), 400, /on_error must be "stop" or "continue", got "ignore"/);
  const limited = await post({ job_time_limit: '1' }, SLEEPING_TOOL, { marker: `limit-${process.pid}` } as never);
  assert.equal(limited.statusCode, 200, limited.body);
  const runId = (limited.json() as { run_id: string }).run_id;
  assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');
  const log = (await get(app, auth, `/runs/${runId}`)).json() as { run_log: { system_logs: string[] } };
  assert.match(log.run_log.system_logs.join('\n'), /exceeded its time limit/);
});

test('service-info fills every optional field and lists the engine parameters', async (t) => {
  const app = await buildTestApp(t);
  const body = (await app.app.inject({ url: `${API}/service-info` })).json() as Record<string, unknown>;
  assertMatchesSpec('ServiceInfo', body);
  for (const field of ['description', 'contactUrl', 'documentationUrl', 'createdAt', 'updatedAt', 'environment', 'organization', 'auth_instructions_url', 'tags']) {
    assert.ok(body[field] !== undefined && body[field] !== '', `service-info.${field} is missing`);
  }
  assert.ok(!Number.isNaN(Date.parse(String(body.createdAt))));
  assert.deepEqual(
    (body.default_workflow_engine_parameters as { name: string }[]).map((p) => p.name),
    ['max_jobs', 'job_time_limit', 'on_error'],
  );
  // Kept in the store: the same on the next request.
  const again = (await app.app.inject({ url: `${API}/service-info` })).json() as Record<string, unknown>;
  assert.equal(again.createdAt, body.createdAt);
});

test('CORS: off by default; listed origins get headers and an answered preflight', async (t) => {
  const closed = await buildTestApp(t);
  const plain = await closed.app.inject({ url: `${API}/service-info`, headers: { origin: 'https://dash.example' } });
  assert.equal(plain.headers['access-control-allow-origin'], undefined);
  const options = await closed.app.inject({ method: 'OPTIONS', url: `${API}/runs` });
  assert.equal(options.statusCode, 204);
  assert.equal(options.headers.allow, 'GET, HEAD, POST, OPTIONS');

  const open = await buildTestApp(t, { corsOrigins: ['https://dash.example'] });
  const { auth } = await open.addUser('alice');
  const preflight = await open.app.inject({
    method: 'OPTIONS',
    url: `${API}/runs`,
    headers: { origin: 'https://dash.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
  });
  assert.equal(preflight.statusCode, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://dash.example');
  assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
  assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  const listed = await open.app.inject({ url: `${API}/runs`, headers: { origin: 'https://dash.example', authorization: auth } });
  assert.equal(listed.statusCode, 200);
  assert.equal(listed.headers['access-control-allow-origin'], 'https://dash.example');
  assert.match(String(listed.headers['access-control-expose-headers']), /Content-Range/);
  const denied = await open.app.inject({ url: `${API}/runs`, headers: { origin: 'https://evil.example', authorization: auth } });
  assert.equal(denied.headers['access-control-allow-origin'], undefined);
  // A preflight never authenticates, but the request it clears still must.
  const unauthenticated = await open.app.inject({ url: `${API}/runs`, headers: { origin: 'https://dash.example' } });
  assertErrorResponse(unauthenticated, 401);
});

test('a wrong method on an existing path is a 405 with Allow; an unknown path stays a 404', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('alice');
  const deleted = await app.app.inject({ method: 'DELETE', url: `${API}/runs`, headers: { authorization: auth } });
  assertErrorResponse(deleted, 405, /DELETE is not allowed/);
  assert.equal(deleted.headers.allow, 'GET, HEAD, POST, OPTIONS');
  const put = await app.app.inject({ method: 'PUT', url: `${API}/runs/abc/tasks/1.2/stdout` });
  assertErrorResponse(put, 405);
  assert.equal(put.headers.allow, 'GET, HEAD, OPTIONS');
  const cancel = await app.app.inject({ method: 'GET', url: `${API}/runs/abc/cancel` });
  assertErrorResponse(cancel, 405);
  assert.equal(cancel.headers.allow, 'POST, OPTIONS');
  assertErrorResponse(await app.app.inject({ method: 'DELETE', url: `${API}/nothing` }), 404);
});

test('GET /metrics: runs by state, jobs queued and running, job and request durations in Prometheus text format', async (t) => {
  const app = await buildTestApp(t, { engine: true, metrics: new ServerMetrics() });
  const { auth } = await app.addUser('prometheus');
  const body = await multipartBody(runFields({ workflow_url: 'scatter.cwl', workflow_params: JSON.stringify({ numbers: [1, 2, 3] }) }), [
    { name: 'scatter.cwl', content: SCATTER_WORKFLOW },
  ]);
  const runId = ((await submit(app, auth, body)).json() as { run_id: string }).run_id;
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const response = await app.app.inject({ url: '/metrics' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const text = response.body;
  assert.match(text, /^# TYPE wes_runs gauge$/m);
  assert.match(text, /^wes_runs\{state="COMPLETE"\} 1$/m);
  assert.match(text, /^wes_jobs\{state="running"\} 0$/m);
  assert.match(text, /^wes_job_duration_seconds_count\{outcome="exited"\} 3$/m);
  assert.match(text, /^wes_http_request_duration_seconds_count\{method="POST",route="\/ga4gh\/wes\/v1\/runs",status="2xx"\} 1$/m);
  assert.match(text, /^wes_http_request_duration_seconds_bucket\{method="GET",route="\/ga4gh\/wes\/v1\/runs\/:run_id\/status",status="2xx",le="\+Inf"\} \d+$/m);
  // A stall of the server's one thread shows, then the next scrape starts afresh.
  const stalledUntil = performance.now() + 300;
  while (performance.now() < stalledUntil);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const loopMax = (body: string): number => Number(/^wes_event_loop_delay_max_seconds (\S+)$/m.exec(body)?.[1]);
  const stalled = loopMax((await app.app.inject({ url: '/metrics' })).body);
  assert.ok(stalled >= 0.25, `the 300 ms stall showed as ${stalled} s`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const after = loopMax((await app.app.inject({ url: '/metrics' })).body);
  assert.ok(after < 0.25, `still ${after} s after the scrape`);
  // Without metrics configured there is no endpoint.
  const plain = await buildTestApp(t);
  assertErrorResponse(await plain.app.inject({ url: '/metrics' }), 404);
});
