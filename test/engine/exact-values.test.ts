/**
 * Exact integers through JSON and YAML text, and which addresses an http(s) input may name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseJson, StreamedJsonArray, stringifyJson, stringifyJsonInPieces } from '../../src/exact-json.js';
import { parseYaml } from '../../src/engine/index.js';
import { checkRemoteHost, RemoteInputError } from '../../src/engine/cwl/remote-inputs.js';

describe('exact JSON', () => {
  it('keeps integers beyond 2^53 digit for digit and everything else as JSON.parse does', () => {
    const text = '{"a":4200000000000000000000000000000000000000000,"b":[-9007199254740993,9007199254740991,1.5e300,2.5],"s":"12345678901234567890 \\"x\\" \\u0000"}';
    const value = parseJson(text) as Record<string, unknown>;
    assert.equal(value.a, 4200000000000000000000000000000000000000000n);
    assert.deepEqual(value.b, [-9007199254740993n, 9007199254740991, 1.5e300, 2.5]);
    assert.equal(value.s, '12345678901234567890 "x" \u0000');
    assert.equal(stringifyJson(value), text.replace('1.5e300', '1.5e+300'));
  });

  it('writes back the same text it read, for any JSON value with big integers in it', () => {
    const big = fc.bigInt({ min: -(10n ** 50n), max: 10n ** 50n }).filter((n) => n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER));
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), big),
      node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        // A large integral double is written as an integer literal, so it is read back as that (exact) integer.
        const text = stringifyJson(v);
        assert.equal(stringifyJson(parseJson(text)), text);
      }),
    );
  });

  it('writes in pieces exactly the text it writes at once, long arrays included', async () => {
    const big = fc.bigInt({ min: 10n ** 20n, max: 10n ** 30n });
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constant(undefined), big),
      node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
    })).node;
    // Longer than a slice (1,000), nested as nested_crossproduct outputs are.
    const element = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant(undefined), big, fc.dictionary(fc.string({ maxLength: 2 }), fc.oneof(fc.integer(), fc.constant(undefined)), { maxKeys: 2 }));
    const long = fc.array(element, { minLength: 1001, maxLength: 2500 }).map((elements) => [elements, elements.slice(0, 3)]);
    await fc.assert(
      fc.asyncProperty(fc.oneof(value, long, fc.record({ out: long, other: value })), async (v) => {
        let text = '';
        for await (const piece of stringifyJsonInPieces(v)) text += piece;
        assert.equal(text, stringifyJson(v) ?? 'null');
      }),
      { numRuns: 40 },
    );
  });

  it('writes a streamed array, read batch by batch, as the array of its elements', async () => {
    const element = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant(null), fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }));
    const batches = fc.array(fc.array(element, { maxLength: 1200 }), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(batches, element, async (read, other) => {
        let text = '';
        for await (const piece of stringifyJsonInPieces({ out: new Batches(read), other, nested: [new Batches(read)] })) text += piece;
        const elements = read.flat();
        assert.equal(text, stringifyJson({ out: elements, other, nested: [elements] }));
      }),
      { numRuns: 30 },
    );
  });

  it('returns to the event loop while it writes a long array', async () => {
    let turns = 0;
    let writing = true;
    const tick = (): void => {
      turns++;
      if (writing) setImmediate(tick);
    };
    setImmediate(tick);
    let text = '';
    for await (const piece of stringifyJsonInPieces({ out: Array.from({ length: 5_000 }, (_, i) => ({ class: 'File', path: `/${i}` })) })) text += piece;
    writing = false;
    assert.equal(JSON.parse(text).out.length, 5_000);
    assert.ok(turns >= 4, `${turns} turns of the event loop during 5 slices`);
  });

  it('cannot be fooled by a string that looks like its marker', () => {
    const text = '{"x":"\\u0000abc:123","y":12345678901234567890}';
    assert.deepEqual(parseJson(text), { x: '\u0000abc:123', y: 12345678901234567890n });
  });

  it('reads YAML integers beyond 2^53 exactly and small ones as numbers', () => {
    assert.deepEqual(parseYaml('a: 4200000000000000000000000000000000000000000\nb: 42\nc: 4.2\nd: "99999999999999999999"\n'), {
      a: 4200000000000000000000000000000000000000000n,
      b: 42,
      c: 4.2,
      d: '99999999999999999999',
    });
  });
});

class Batches extends StreamedJsonArray {
  readonly #batches: readonly (readonly unknown[])[];

  constructor(batches: readonly (readonly unknown[])[]) {
    super();
    this.#batches = batches;
  }

  async *batches(): AsyncGenerator<readonly unknown[]> {
    for (const batch of this.#batches) yield batch;
  }
}

describe('http(s) input hosts', () => {
  const refused = ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '[::1]', '[::]', '[fe80::1]', '[fd00::1]', '[::ffff:127.0.0.1]', '[::ffff:10.0.0.1]'];
  for (const host of refused) {
    it(`refuses ${host} unless private addresses are allowed`, async () => {
      await assert.rejects(checkRemoteHost(new URL(`http://${host}/x`), false), (error: unknown) => error instanceof RemoteInputError && /loopback, link-local or private/.test(error.message));
      assert.ok((await checkRemoteHost(new URL(`http://${host}/x`), true)).address);
    });
  }
  for (const host of ['93.184.215.14', '[2606:2800:21f:cb07:6820:80da:af6b:8b2c]', '8.8.8.8']) {
    it(`accepts the public address ${host}`, async () => {
      assert.ok((await checkRemoteHost(new URL(`https://${host}/x`), false)).address);
    });
  }
});
