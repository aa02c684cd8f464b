/**
 * Bad input is a 4xx, never a 500 or a silent truncation (issue 6), each case as it was
 * found, over HTTP on both databases: the exact status, an ErrorResponse body that validates
 * against the spec and names the problem, and nothing kept from a rejected submission.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { assertErrorResponse } from '../helpers/spec.js';
import { ECHO_TOOL, multipartBody, runFields, type FormFile } from '../helpers/multipart.js';

const MiB = 1024 * 1024;

async function post(app: TestApp, auth: string, payload: Buffer, headers: Record<string, string>) {
  return app.app.inject({ method: 'POST', url: '/ga4gh/wes/v1/runs', payload, headers: { ...headers, authorization: auth } });
}

async function submit(app: TestApp, auth: string, fields: Record<string, string>, files: readonly FormFile[] = [{ name: 'echo.cwl', content: ECHO_TOOL }]) {
  const { payload, headers } = await multipartBody(fields, files);
  return post(app, auth, payload, headers);
}

/** Nothing of a rejected submission is kept: no run directory, no staging directory. */
function assertNothingKept(app: TestApp): void {
  const dir = path.join(app.database.dataDir, 'runs');
  assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], []);
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

test('a multipart body without its closing boundary is a 400', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('mallory');
  const { payload, headers } = await multipartBody(runFields(), [{ name: 'echo.cwl', content: ECHO_TOOL }]);
  const boundary = /boundary=(.+)$/.exec(headers['content-type'])?.[1] ?? '';
  const cut = payload.subarray(0, payload.lastIndexOf(`--${boundary}--`));
  assertErrorResponse(await post(app, auth, cut, headers), 400, /malformed multipart\/form-data body/);
  // Cut inside the attachment's content, too.
  const inside = payload.subarray(0, payload.indexOf('baseCommand'));
  assertErrorResponse(await post(app, auth, inside, headers), 400, /malformed multipart\/form-data body/);
  assertNothingKept(app);
});

test('an attachment name with a segment over 255 bytes is a 400', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('mallory');
  const long = `${'a'.repeat(300)}.cwl`;
  const response = await submit(app, auth, runFields({ workflow_url: long }), [{ name: long, content: ECHO_TOOL }]);
  assertErrorResponse(response, 400, /workflow_attachment filename ".*" has a part longer than 255 bytes/);
  const multibyte = `dir/${'é'.repeat(128)}.txt`; // 256 bytes in UTF-8
  const second = await submit(app, auth, runFields(), [{ name: 'echo.cwl', content: ECHO_TOOL }, { name: multibyte, content: 'x' }]);
  assertErrorResponse(second, 400, /has a part longer than 255 bytes/);
  assertNothingKept(app);
});

test('workflow_params nested 5,000 deep, or 3,000 deep inside an input, is a 400', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('mallory');
  const deep = await submit(app, auth, runFields({ workflow_params: `{"message": "hi", "x": ${nested(5000)}}` }));
  assertErrorResponse(deep, 400, /^workflow_params: nesting exceeds 128 levels$/);
  const inInput = await submit(app, auth, runFields({ workflow_params: `{"message": {"class": "File", "secondaryFiles": ${nested(3000)}}}` }));
  assertErrorResponse(inInput, 400, /^workflow_params: nesting exceeds 128 levels$/);
  const tags = await submit(app, auth, runFields({ tags: `{"a": ${nested(5000)}}` }));
  assertErrorResponse(tags, 400, /^tags: nesting exceeds 128 levels$/);
  assertNothingKept(app);
});

test('a task id whose job index overflows a 32-bit integer is a 404, as any unknown task', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('mallory');
  const submitted = await submit(app, auth, runFields());
  assert.equal(submitted.statusCode, 200, submitted.body);
  const runId = (submitted.json() as { run_id: string }).run_id;
  for (const id of ['0.2147483648', '0.4294967294', '0.2147483647']) {
    for (const suffix of ['', '/stdout']) {
      const response = await app.app.inject({ url: `/ga4gh/wes/v1/runs/${runId}/tasks/${id}${suffix}`, headers: { authorization: auth } });
      assertErrorResponse(response, 404, /not found/);
    }
  }
});

test('workflow_params over 16 MiB is a 400, even when what fits is valid JSON', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('mallory');
  // The first 16 MiB parse as {"message": "hi"}; the rest would make the field invalid.
  const params = `{"message": "hi"}${' '.repeat(16 * MiB)}, "x": 1}`;
  const response = await submit(app, auth, runFields({ workflow_params: params }));
  assertErrorResponse(response, 400, /^form field workflow_params exceeds 16 MiB$/);
  assertNothingKept(app);
});

test('the whole upload is bounded by the configured maximum, not only each file', async (t) => {
  const app = await buildTestApp(t, { maxUploadBytes: 64 * 1024 });
  const { auth } = await app.addUser('mallory');
  const chunk = 'x'.repeat(30 * 1024);
  const files = [{ name: 'echo.cwl', content: ECHO_TOOL }, { name: 'a.txt', content: chunk }, { name: 'b.txt', content: chunk }, { name: 'c.txt', content: chunk }];
  const response = await submit(app, auth, runFields(), files);
  assertErrorResponse(response, 400, /^the request's workflow_attachment files exceed 65536 bytes in total$/);
  assertNothingKept(app);
  // Within the budget the same files are accepted.
  const fits = await submit(app, auth, runFields(), files.slice(0, 3));
  assert.equal(fits.statusCode, 200, fits.body);
});

test('attachments are limited to the documented 10,000, not to busboy\'s default of 1,000 parts', async (t) => {
  const app = await buildTestApp(t);
  const { auth } = await app.addUser('mallory');
  const files = (n: number) => [{ name: 'echo.cwl', content: ECHO_TOOL }, ...Array.from({ length: n - 1 }, (_, i) => ({ name: `d/${i}.txt`, content: '' }))];
  const accepted = await submit(app, auth, runFields(), files(1200));
  assert.equal(accepted.statusCode, 200, accepted.body);
  const response = await submit(app, auth, runFields(), files(10_001));
  assertErrorResponse(response, 400, /^POST \/runs takes at most 10000 workflow_attachment files$/);
});
