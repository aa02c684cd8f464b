/** Authentication, service-info and the error contract of the API. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp } from '../helpers/test-app.js';
import { assertErrorResponse, assertMatchesSpec } from '../helpers/spec.js';
import { seedRun } from '../../src/wes/seed.js';
import { runsDirOf } from '../../src/wes/run-service.js';
import { BadRequestError, ForbiddenError, InvalidWorkflowError, NotFoundError, UnauthorizedError, WesError } from '../../src/errors.js';
import YAML from 'yaml';
import fs from 'node:fs';

test('every endpoint but service-info needs a valid bearer key', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('alice');
  const endpoints: [string, string][] = [
    ['GET', '/runs'],
    ['POST', '/runs'],
    ['GET', '/runs/x'],
    ['GET', '/runs/x/status'],
    ['POST', '/runs/x/cancel'],
    ['GET', '/runs/x/tasks'],
    ['GET', '/runs/x/tasks/0'],
  ];
  for (const [method, url] of endpoints) {
    for (const authorization of [undefined, 'Bearer wes_not-a-key', 'Basic abc', `${auth}x`]) {
      const response = await app.app.inject({ method, url: `/ga4gh/wes/v1${url}`, headers: authorization ? { authorization } : {} });
      assertErrorResponse(response, 401);
      assert.match(String(response.headers['www-authenticate']), /^Bearer/);
    }
  }
  const ok = await app.app.inject({ url: '/ga4gh/wes/v1/runs', headers: { authorization: auth } });
  assert.equal(ok.statusCode, 200);
});

test('a --no-auth server acts as its single local user', async (t) => {
  const app = await buildTestApp(t, { noAuth: true });
  const response = await app.app.inject({ url: '/ga4gh/wes/v1/runs' });
  assert.equal(response.statusCode, 200);
  assertMatchesSpec('RunListResponse', response.json());
});

test('service-info is public, valid, and counts runs by state from the store', async (t) => {
  const app = await buildTestApp(t);
  const { userId } = await app.addUser('alice');
  await seedRun(app.store.db, { userId, runsDir: runsDirOf(app.database.dataDir), steps: [{ kind: 'single' }] });
  await seedRun(app.store.db, { userId, runsDir: runsDirOf(app.database.dataDir), steps: [{ kind: 'single' }], runningJobs: 1 });
  await seedRun(app.store.db, { userId, runsDir: runsDirOf(app.database.dataDir), steps: [{ kind: 'single' }], runningJobs: 1 });
  const response = await app.app.inject({ url: '/ga4gh/wes/v1/service-info' });
  assert.equal(response.statusCode, 200);
  const body = response.json() as Record<string, unknown>;
  assertMatchesSpec('ServiceInfo', body);
  const counts = body.system_state_counts as Record<string, number>;
  assert.equal(counts.COMPLETE, 1);
  assert.equal(counts.RUNNING, 2);
  assert.equal(counts.QUEUED, 0);
  assert.deepEqual(body.supported_wes_versions, ['1.1.0']);
  assert.deepEqual(body.workflow_type_versions, { CWL: { workflow_type_version: ['v1.0', 'v1.1', 'v1.2'] } });
  const instructions = await app.app.inject({ url: new URL(String(body.auth_instructions_url)).pathname });
  assert.equal(instructions.statusCode, 200);
  assert.match(instructions.body, /Authorization: Bearer/);
});

test('unknown endpoints and undecodable URLs are ErrorResponses', async (t) => {
  const app = await buildTestApp(t);
  assertErrorResponse(await app.app.inject({ url: '/ga4gh/wes/v1/nothing' }), 404, /no such endpoint/);
  assertErrorResponse(await app.app.inject({ url: '/ga4gh/wes/v1/runs/%ZZ' }), 400, /not a valid url/);
});

test('each WesError status is one the spec declares, and maps to an ErrorResponse', () => {
  const spec = YAML.parse(fs.readFileSync(new URL('../../vendor/wes-spec/wes-1.1.0.openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  const declared = new Set(
    Object.values(spec.paths).flatMap((ops) => Object.values(ops).flatMap((op) => Object.keys(op.responses).map(Number))),
  );
  const errors: WesError[] = [
    new BadRequestError('x'),
    new InvalidWorkflowError(['a', 'b']),
    new UnauthorizedError('x'),
    new ForbiddenError('x'),
    new NotFoundError('x'),
  ];
  for (const error of errors) assert.ok(declared.has(error.status), `${error.name} ${error.status} not in the spec`);
  assert.equal(new InvalidWorkflowError(['line 3: bad', 'line 9: worse']).message, 'invalid workflow: line 3: bad; line 9: worse');
});
