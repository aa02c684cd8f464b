/**
 * A run's outputs.json, in a run directory an unconfined job could write into: written
 * whole or not at all, never through a link planted at its name, and never read through one;
 * read back linked for the RunLog a piece at a time, whatever the way the pieces fall.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeRunOutputs } from '../../src/run-outputs.js';
import fc from 'fast-check';
import { PIECE_BYTES, linkedOutputs, linkedText, type LinkedOutputs } from '../../src/wes/linked-outputs.js';
import { OutputsLinker, OutputsSyntaxError } from '../../src/wes/outputs-linker.js';
import { outputLinker } from '../../src/wes/output-links.js';
import { parseJson, stringifyJson } from '../../src/exact-json.js';

const RUN_URL = 'http://wes.test/ga4gh/wes/v1/runs/r1';

/** What GetRunLog shows as outputs, parsed; undefined when it shows none. */
async function readRunOutputs(runDir: string): Promise<unknown> {
  const linked = await linkedOutputs(runDir, RUN_URL);
  return linked === undefined ? undefined : parseJson((await piecesOf(linked)).join(''));
}

async function piecesOf(linked: LinkedOutputs): Promise<string[]> {
  const pieces = [linked.first.toString('utf8')];
  if (linked.rest !== undefined) for await (const piece of linked.rest) pieces.push(piece.toString('utf8'));
  return pieces;
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

test('outputs of several write chunks read back byte for byte: multi-byte text across chunk ends, a piece larger than a chunk', async (t) => {
  const runDir = tempDir(t);
  // ~1.9 MB of elements whose UTF-8 is longer than their UTF-16, then one string of 1.6 MB.
  const outputs = {
    names: Array.from({ length: 30_000 }, (_, i) => `é€😀 élément ${i} ${'ü'.repeat(i % 37)}`),
    big: 'ß'.repeat(800_000),
  };
  await writeRunOutputs(runDir, outputs);
  assert.equal(fs.readFileSync(path.join(runDir, 'outputs.json'), 'utf8'), stringifyJson(outputs));
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

test('a large outputs file is linked a piece at a time, as a small one is whole', async (t) => {
  const runDir = tempDir(t);
  const files = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ class: 'File', path: path.join(runDir, 'work', `job.${i}`, 'out.txt'), basename: 'out.txt', size: i }));
  const small = { out: files(3), n: 12345678901234567890n };
  await writeRunOutputs(runDir, small);
  const smallLinked = await linkedOutputs(runDir, RUN_URL);
  assert.equal(smallLinked?.rest, undefined, 'a small file comes whole');
  const linkedSmall = (await readRunOutputs(runDir)) as { out: Record<string, unknown>[]; n: bigint };
  assert.deepEqual(linkedSmall.out[2], { class: 'File', basename: 'out.txt', size: 2, location: `${RUN_URL}/outputs/work/job.2/out.txt` });
  assert.equal(linkedSmall.n, 12345678901234567890n);

  const large = { out: files(200_000), n: 12345678901234567890n };
  await writeRunOutputs(runDir, large);
  const size = fs.statSync(path.join(runDir, 'outputs.json')).size;
  const linked = await linkedOutputs(runDir, RUN_URL);
  assert.ok(linked !== undefined);
  const pieces = await piecesOf(linked);
  // Parsed and linked whole, the ~20 MB took ~220 MB of heap and one long stall; in pieces, no piece is much more than one read.
  assert.ok(pieces.length >= size / PIECE_BYTES, `${pieces.length} pieces for ${size} bytes`);
  const largest = Math.max(...pieces.map((p) => p.length));
  assert.ok(largest < 2 * PIECE_BYTES, `a piece of ${largest} characters`);
  const linkedLarge = parseJson(pieces.join('')) as { out: Record<string, unknown>[]; n: bigint };
  assert.equal(linkedLarge.out.length, 200_000);
  assert.deepEqual(linkedLarge.out[2], linkedSmall.out[2]);
  assert.deepEqual(linkedLarge.out[199_999], { class: 'File', basename: 'out.txt', size: 199_999, location: `${RUN_URL}/outputs/work/job.199999/out.txt` });
  assert.equal(linkedLarge.n, 12345678901234567890n);
});

test('closing the pieces early closes the outputs file', async (t) => {
  const runDir = tempDir(t);
  await writeRunOutputs(runDir, { out: Array.from({ length: 20_000 }, (_, i) => ({ class: 'File', path: path.join(runDir, `f${i}`) })) });
  const openFiles = (): number => fs.readdirSync('/proc/self/fd').length;
  const before = openFiles();
  const linked = await linkedOutputs(runDir, RUN_URL);
  assert.ok(linked?.rest !== undefined);
  assert.equal(openFiles(), before + 1);
  await linked.rest.next();
  await linked.rest.return(undefined);
  assert.equal(openFiles(), before);
});

/** Outputs as the engine writes them: records, arrays nested in arrays, Files in and out of the run directory, big integers, awkward strings. */
const outputsValue = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.bigInt({ min: 10n ** 20n, max: 10n ** 30n }),
    fc.record({ class: fc.constantFrom('File', 'Directory'), path: fc.constantFrom('/run/work/a b/ü.txt', '/run/x', '/elsewhere/y'), basename: fc.string() }),
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node')), fc.dictionary(fc.string({ unit: 'binary' }), tie('node'))),
}));

test('linking in pieces gives what linking the whole gives, wherever the pieces are cut', () => {
  const link = outputLinker('/run', RUN_URL);
  fc.assert(
    fc.property(fc.dictionary(fc.string({ unit: 'binary' }), outputsValue.node), fc.array(fc.nat(), { maxLength: 8 }), (outputs, cuts) => {
      const text = stringifyJson(outputs);
      const linker = new OutputsLinker((value) => stringifyJson(link(parseJson(value))));
      const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      let linked = '';
      let from = 0;
      for (const point of [...points, text.length]) {
        linked += linker.push(text.slice(from, point));
        from = point;
      }
      linker.end();
      const expected = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, link(v)]));
      assert.deepEqual(parseJson(linked), parseJson(stringifyJson(expected)));
    }),
  );
});

test('outputs kept in the run row (runs completed before outputs.json) are linked the same way', () => {
  const linked = linkedText(stringifyJson({ f: { class: 'File', path: '/run/work/a.txt' }, n: 12345678901234567890n }), '/run', RUN_URL);
  assert.deepEqual(parseJson(String(linked?.first)), { f: { class: 'File', location: `${RUN_URL}/outputs/work/a.txt` }, n: 12345678901234567890n });
  assert.equal(linked?.rest, undefined);
  assert.equal(linkedText('[1]', '/run', RUN_URL), undefined);
  assert.equal(linkedText('{"a":', '/run', RUN_URL), undefined);
});

test('a file that is not one whole JSON object is refused, naming the problem', () => {
  const refuse = (text: string, message: RegExp): void => {
    const linker = new OutputsLinker((value) => value);
    assert.throws(() => {
      linker.push(text);
      linker.end();
    }, (error: unknown) => error instanceof OutputsSyntaxError && message.test(error.message));
  };
  refuse('[1]', /not a JSON object/);
  refuse('{"a":1', /cut off/);
  refuse('{"a":1}{}', /after the outputs object/);
  refuse('{"a" 1}', /expected ':'/);
  refuse('{"a":nope}', /not a JSON value: nope/);
  refuse('{"a":[1,,2]}', /expected a value/);
});
