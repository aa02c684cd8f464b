/**
 * A run's outputs.json, in a run directory an unconfined job could write into: written
 * whole or not at all, never through a link planted at its name, and never read through one;
 * read back linked for the RunLog, a large one off the event loop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeRunOutputs } from '../../src/run-outputs.js';
import { INLINE_BYTES, linkedOutputsJson } from '../../src/wes/linked-outputs.js';
import { parseJson } from '../../src/exact-json.js';

const RUN_URL = 'http://wes.test/ga4gh/wes/v1/runs/r1';

/** What GetRunLog shows as outputs, parsed; undefined when it shows none. */
async function readRunOutputs(runDir: string): Promise<unknown> {
  const bytes = await linkedOutputsJson(runDir, RUN_URL);
  return bytes === undefined ? undefined : parseJson(bytes.toString('utf8'));
}

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

test('a large outputs file is linked in a worker thread, as a small one is here', async (t) => {
  const runDir = tempDir(t);
  const files = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ class: 'File', path: path.join(runDir, 'work', `job.${i}`, 'out.txt'), basename: 'out.txt', size: i }));
  const small = { out: files(3), n: 12345678901234567890n };
  await writeRunOutputs(runDir, small);
  const linkedSmall = (await readRunOutputs(runDir)) as { out: Record<string, unknown>[]; n: bigint };
  assert.deepEqual(linkedSmall.out[2], { class: 'File', basename: 'out.txt', size: 2, location: `${RUN_URL}/outputs/work/job.2/out.txt` });
  assert.equal(linkedSmall.n, 12345678901234567890n);

  const large = { out: files(200_000), n: 12345678901234567890n };
  await writeRunOutputs(runDir, large);
  assert.ok(fs.statSync(path.join(runDir, 'outputs.json')).size > 10 * INLINE_BYTES);
  // The threads of this process while the outputs are read: one more means the work went to a worker.
  const threads = (): number => fs.readdirSync('/proc/self/task').length;
  const before = threads();
  let most = before;
  let reading = true;
  const tick = (): void => {
    most = Math.max(most, threads());
    if (reading) setImmediate(tick);
  };
  setImmediate(tick);
  const linkedLarge = (await readRunOutputs(runDir)) as { out: Record<string, unknown>[]; n: bigint };
  reading = false;
  assert.equal(linkedLarge.out.length, 200_000);
  assert.deepEqual(linkedLarge.out[2], linkedSmall.out[2]);
  assert.deepEqual(linkedLarge.out[199_999], { class: 'File', basename: 'out.txt', size: 199_999, location: `${RUN_URL}/outputs/work/job.199999/out.txt` });
  assert.equal(linkedLarge.n, 12345678901234567890n);
  // Parsed and linked on this thread, the ~20 MB would stall every request for as long.
  assert.ok(most > before, `${before} threads before, at most ${most} while the outputs were linked`);
});
