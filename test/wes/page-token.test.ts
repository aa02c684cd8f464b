import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PageTokenCodec } from '../../src/wes/page-token.js';
import { BadRequestError } from '../../src/errors.js';

const codec = new PageTokenCodec(randomBytes(32));

test('a token decodes to its key in its own scope', () => {
  const token = codec.encode('tasks:r1', ['00000001', 4]);
  assert.deepEqual(codec.decode(token, 'tasks:r1'), ['00000001', 4]);
});

test('tampered, foreign-scope, other-secret and malformed tokens are rejected', () => {
  const token = codec.encode('tasks:r1', ['00000001', 4]);
  const [body, signature] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ v: 1, s: 'tasks:r1', k: ['00000009', 0] })).toString('base64url');
  const cases: [string, string, RegExp][] = [
    [`${forged}.${signature}`, 'tasks:r1', /altered/],
    [token, 'tasks:r2', /different listing/],
    [new PageTokenCodec(randomBytes(32)).encode('tasks:r1', []), 'tasks:r1', /altered/],
    ['not-a-token', 'tasks:r1', /malformed/],
    [`${body}.${signature}.x`, 'tasks:r1', /malformed/],
    [`${body}.`, 'tasks:r1', /malformed/],
  ];
  for (const [candidate, scope, message] of cases) {
    assert.throws(() => codec.decode(candidate, scope), (e: unknown) => e instanceof BadRequestError && message.test(e.message));
  }
});
