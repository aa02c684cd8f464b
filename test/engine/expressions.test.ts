import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateExpression } from '../../src/engine/expressions/evaluate-expression.js';
import { ExpressionError } from '../../src/engine/expressions/expression-error.js';
import { CancelledError } from '../../src/errors.js';

const scope = {
  inputs: { file: { class: 'File', path: '/data/a b.txt', basename: 'a b.txt' }, list: [1, 2, 3], rec: { 'a b': 'x', length: 7 }, none: null },
  self: ['s0', 's1'],
  runtime: { outdir: '/out', cores: 2 },
};
const refs = { javascript: false, expressionLib: [] };
const js = { javascript: true, expressionLib: [] };
const tight = { ...js, limits: { timeoutMs: 300, memoryBytes: 16 * 1024 * 1024 } };

describe('parameter references', () => {
  it('returns the referenced value itself when the string is one reference', async () => {
    assert.deepEqual(await evaluateExpression('$(inputs.list)', scope, refs), [1, 2, 3]);
    assert.equal(await evaluateExpression('$(inputs.list.length)', scope, refs), 3);
    assert.equal(await evaluateExpression("$(inputs.rec['a b'])", scope, refs), 'x');
    assert.equal(await evaluateExpression('$(self[1])', scope, refs), 's1');
    assert.equal(await evaluateExpression('$(inputs.rec.length)', scope, refs), 7);
  });

  it('splices values into text, non-strings as JSON', async () => {
    assert.equal(await evaluateExpression('n=$(runtime.cores) f=$(inputs.file.path)', scope, refs), 'n=2 f=/data/a b.txt');
    assert.equal(await evaluateExpression('l=$(inputs.list)', scope, refs), 'l=[1, 2, 3]');
  });

  it('honours backslash escapes', async () => {
    assert.equal(await evaluateExpression('\\$(inputs.list) \\\\$(runtime.cores)', scope, refs), '$(inputs.list) \\2');
  });

  it('fails on a property of null, length of a non-array, and JavaScript without the requirement', async () => {
    await assert.rejects(evaluateExpression('$(inputs.none.x)', scope, refs), ExpressionError);
    await assert.rejects(evaluateExpression('$(runtime.cores.length)', scope, refs), ExpressionError);
    await assert.rejects(evaluateExpression('$(inputs.list.map(x => x))', scope, refs), /InlineJavascriptRequirement/);
  });

  it('leaves strings without expressions alone', async () => {
    assert.equal(await evaluateExpression('plain \\ text', scope, refs), 'plain \\ text');
  });
});

describe('JavaScript expressions', () => {
  it('evaluates expressions and function bodies over inputs, self and runtime', async () => {
    assert.deepEqual(await evaluateExpression('$(inputs.list.map(function (x) { return x * runtime.cores; }))', scope, js), [2, 4, 6]);
    assert.equal(await evaluateExpression('${ return self.join("+"); }', scope, js), 's0+s1');
    assert.equal(await evaluateExpression('${ return undefined; }', scope, js), null);
  });

  it('makes expressionLib functions available', async () => {
    const options = { javascript: true, expressionLib: ['function twice(x) { return 2 * x; }'] };
    assert.equal(await evaluateExpression('$(twice(inputs.list[2]))', scope, options), 6);
  });

  it('stops a runaway loop with a clear error', async () => {
    await assert.rejects(evaluateExpression('${ while (true) {} }', scope, tight), /while \(true\) \{\} exceeded the 300 ms time limit/);
  });

  it('stops a long-running built-in at the deadline, and the next expression still runs', async () => {
    const started = Date.now();
    await assert.rejects(
      evaluateExpression('${ for (var i = 0; i < 1000; i++) Array(1e6).join("x"); return 1; }', scope, tight),
      /exceeded the 300 ms time limit/,
    );
    // A safety bound, not a benchmark: without the pool's timer this takes tens of seconds.
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    assert.equal(await evaluateExpression('$(1 + 1)', scope, js), 2);
  });

  it('abandons a running or queued evaluation when its signal aborts', async () => {
    const controller = new AbortController();
    const options = { ...js, signal: controller.signal, limits: { timeoutMs: 60_000, memoryBytes: 16 * 1024 * 1024 } };
    const spinning = Array.from({ length: 4 }, () => evaluateExpression('${ while (true) {} }', scope, options));
    setTimeout(() => controller.abort(), 200);
    for (const evaluation of spinning) await assert.rejects(evaluation, CancelledError);
    assert.equal(await evaluateExpression('$(2 * 3)', scope, js), 6);
  });

  it('gives each evaluation a fresh context: globals and prototypes do not leak', async () => {
    await evaluateExpression('${ globalThis.leak = 1; Array.prototype.map = null; Object.prototype.x = 2; return 0; }', scope, js);
    const seen = await Promise.all(
      Array.from({ length: 8 }, () => evaluateExpression('$([typeof leak, typeof [].map, ({}).x === undefined])', scope, js)),
    );
    for (const value of seen) assert.deepEqual(value, ['undefined', 'function', true]);
  });

  it('evaluates plain references natively with the same value JavaScript gives', async () => {
    for (const reference of ['inputs.list', 'inputs.list.length', "inputs.rec['a b']", 'inputs.rec.length', 'self[1]', 'inputs.file.basename', 'inputs.none', 'inputs.missing', 'runtime.cores.x', 'inputs.file.basename.length']) {
      const direct = await evaluateExpression(`$(${reference})`, scope, js).catch(() => 'error');
      // A function body always goes to the sandbox.
      const viaSandbox = await evaluateExpression(`\${ return ${reference}; }`, scope, js).catch(() => 'error');
      assert.deepEqual(direct, viaSandbox, reference);
    }
  });

  it('stops a huge allocation with a clear error', async () => {
    await assert.rejects(
      evaluateExpression('$(new Array(1e8).fill(1).join(","))', scope, { ...js, limits: { timeoutMs: 20_000, memoryBytes: 16 * 1024 * 1024 } }),
      /exceeded the 16 MiB memory limit/,
    );
  });

  it('has no require, process or network in the sandbox', async () => {
    await assert.rejects(evaluateExpression('$(require("fs"))', scope, js), /require' is not defined/);
    assert.equal(await evaluateExpression('$(typeof process + typeof fetch + typeof XMLHttpRequest)', scope, js), 'undefinedundefinedundefined');
  });

  it('reports a thrown error with its message', async () => {
    await assert.rejects(evaluateExpression('${ throw new Error("boom"); }', scope, js), /boom/);
  });
});
