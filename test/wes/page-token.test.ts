import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { PageTokenCodec } from '../../src/wes/page-token.js';
import { BadRequestError } from '../../src/errors.js';

const secret = randomBytes(32);
const codec = new PageTokenCodec(secret);

test('a token decodes to its key in its own scope', () => {
  const token = codec.encode('tasks:r1', ['00000001', 4]);
  assert.deepEqual(codec.decode(token, 'tasks:r1'), ['00000001', 4]);
});

test('a token shows nothing of its scope or key', () => {
  const token = codec.encode('tasks:12345', ['00000000deadbeef', 4]);
  const decoded = Buffer.from(token, 'base64url').toString('latin1');
  for (const secretPart of ['tasks', '12345', 'deadbeef', '"k"']) assert.equal(decoded.includes(secretPart), false, secretPart);
  // Two tokens for the same position differ (fresh nonce), so they cannot be compared either.
  assert.notEqual(codec.encode('tasks:12345', ['00000000deadbeef', 4]), token);
});

test('tampered, foreign-scope, other-secret, old-format and malformed tokens are rejected', () => {
  const token = codec.encode('tasks:r1', ['00000001', 4]);
  const bytes = Buffer.from(token, 'base64url');
  const flipped = Buffer.from(bytes);
  flipped[20] ^= 1;
  // The earlier format: base64url(JSON) "." HMAC, even with the right secret.
  const oldBody = Buffer.from(JSON.stringify({ v: 1, s: 'tasks:r1', k: ['00000009', 0] })).toString('base64url');
  const oldToken = `${oldBody}.${createHmac('sha256', secret).update(oldBody).digest('base64url')}`;
  const cases: [string, string, RegExp][] = [
    [flipped.toString('base64url'), 'tasks:r1', /altered/],
    [bytes.subarray(0, bytes.length - 1).toString('base64url'), 'tasks:r1', /altered/],
    [token, 'tasks:r2', /different listing/],
    [new PageTokenCodec(randomBytes(32)).encode('tasks:r1', []), 'tasks:r1', /altered/],
    [oldToken, 'tasks:r1', /malformed/],
    ['not-a-token', 'tasks:r1', /malformed/],
    [`${token}.x`, 'tasks:r1', /malformed/],
    ['', 'tasks:r1', /malformed/],
  ];
  for (const [candidate, scope, message] of cases) {
    assert.throws(() => codec.decode(candidate, scope), (e: unknown) => e instanceof BadRequestError && message.test(e.message));
  }
});
