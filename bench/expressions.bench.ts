/**
 * Expression evaluation benchmark: the cost of one CWL expression as the engine pays it,
 * for a parameter reference (evaluated natively) and for JavaScript (the QuickJS sandbox),
 * one at a time and with many in flight (a scatter evaluates its jobs' expressions
 * concurrently).
 *
 *   npm run bench:expressions -- [--count N]
 *
 * Prints microseconds per evaluation for each case (wall clock, and the part of it the main
 * thread's event loop was busy: what the API's other requests wait for), then one JSON line
 * with every figure.
 */
import { performance } from 'node:perf_hooks';
import { evaluateExpression, type ExpressionOptions } from '../src/engine/expressions/evaluate-expression.js';
import { closeSandbox } from '../src/engine/expressions/sandbox.js';

const countArg = process.argv.indexOf('--count');
const COUNT = countArg > 0 ? Number(process.argv[countArg + 1]) : 2000;
const IN_FLIGHT = 64;

const file = { class: 'File', location: 'file:///data/reads_1.fastq', path: '/data/reads_1.fastq', basename: 'reads_1.fastq', nameroot: 'reads_1', nameext: '.fastq', size: 1234567 };
const scope = { inputs: { reads: file, threads: 4, prefix: 'sample', list: [1, 2, 3, 4, 5] }, self: null, runtime: { outdir: '/out', tmpdir: '/tmp', cores: 2, ram: 1024 } };
const refs: ExpressionOptions = { javascript: false, expressionLib: [] };
const js: ExpressionOptions = { javascript: true, expressionLib: [] };
const withLib: ExpressionOptions = { javascript: true, expressionLib: ['function stem(f) { return f.nameroot.replace(/_[12]$/, ""); }\nfunction out(p, s) { return p + "." + s; }'] };

const cases: Array<[string, string, ExpressionOptions]> = [
  ['parameter reference', '$(inputs.reads.basename)', refs],
  ['javascript expression', '$(inputs.threads * runtime.cores)', js],
  ['javascript body + expressionLib', '${ return out(inputs.prefix, stem(inputs.reads)) + ".bam"; }', withLib],
];

async function sequential(expression: string, options: ExpressionOptions): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < COUNT; i++) await evaluateExpression(expression, scope, options);
  return ((performance.now() - start) * 1000) / COUNT;
}

async function concurrent(expression: string, options: ExpressionOptions): Promise<{ wallUs: number; mainThreadUs: number }> {
  const start = performance.now();
  const loopBefore = performance.eventLoopUtilization();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < COUNT) {
      next++;
      await evaluateExpression(expression, scope, options);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const loop = performance.eventLoopUtilization(loopBefore);
  return { wallUs: ((performance.now() - start) * 1000) / COUNT, mainThreadUs: (loop.active * 1000) / COUNT };
}

const figures: Record<string, { sequentialUs: number; concurrentUs: number; mainThreadUs: number }> = {};
for (const [name, expression, options] of cases) {
  await evaluateExpression(expression, scope, options); // warm up: load QuickJS / start the pool
  const sequentialUs = await sequential(expression, options);
  const { wallUs: concurrentUs, mainThreadUs } = await concurrent(expression, options);
  figures[name] = { sequentialUs, concurrentUs, mainThreadUs };
  console.log(
    `${name.padEnd(32)} ${sequentialUs.toFixed(0).padStart(6)} µs/eval one at a time ${concurrentUs.toFixed(0).padStart(6)} µs/eval ${IN_FLIGHT} in flight, main thread busy ${mainThreadUs.toFixed(0).padStart(5)} µs/eval`,
  );
}
await closeSandbox();
console.log(JSON.stringify({ count: COUNT, inFlight: IN_FLIGHT, figures }));
