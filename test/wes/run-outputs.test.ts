/**
 * A run's outputs.json, in a run directory an unconfined job could write into: written
 * whole or not at all, never through a link planted at its name, and never read through one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRunOutputs, writeRunOutputs } from '../../src/run-outputs.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-outputs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('outputs written in pieces read back equal, big integers and long arrays included', async (t) => {
  const runDir = tempDir(t);
  const outputs = { n: 12345678901234567890n, files: Array.from({ length: 2_500 }, (_, i) => ({ class: 'File', location: `file:///x/${i}` })) };
  await writeRunOutputs(runDir, outputs);
  assert.deepEqual(await readRunOutputs(runDir), outputs);
  assert.deepEqual(fs.readdirSync(runDir), ['outputs.json'], 'no temporary file is left');
});

test('a link planted at outputs.json is replaced, not written through, and never read through', async (t) => {
  const runDir = tempDir(t);
  const secret = path.join(tempDir(t), 'server-secret.json');
  fs.writeFileSync(secret, '{"key":"do not show"}');
  fs.symlinkSync(secret, path.join(runDir, 'outputs.json'));
  assert.equal(await readRunOutputs(runDir), undefined, 'read through a planted link');

  await writeRunOutputs(runDir, { out: 1 });
  assert.equal(fs.readFileSync(secret, 'utf8'), '{"key":"do not show"}');
  assert.equal(fs.lstatSync(path.join(runDir, 'outputs.json')).isSymbolicLink(), false);
  assert.deepEqual(await readRunOutputs(runDir), { out: 1 });
});

test('no outputs file, or one that is not a JSON object, reads as no outputs', async (t) => {
  const runDir = tempDir(t);
  assert.equal(await readRunOutputs(runDir), undefined);
  fs.writeFileSync(path.join(runDir, 'outputs.json'), 'not json');
  assert.equal(await readRunOutputs(runDir), undefined);
  fs.writeFileSync(path.join(runDir, 'outputs.json'), '[1]');
  assert.equal(await readRunOutputs(runDir), undefined);
});
