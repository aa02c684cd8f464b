/**
 * GetRunLog's outputs for a big run: a run directory whose outputs.json holds N Files (a
 * scatter's), linked for the RunLog as the server does (wes/linked-outputs.ts: a piece at a
 * time, each piece consumed as a socket would) against parsing, linking and writing it whole
 * (what the server did before, on the event loop or in a worker thread: the same memory). Per
 * way: the time to the linked text, the longest stretch the event loop stood still meanwhile
 * (the largest gap between 1 ms timers: what every other request waited at worst), and how far
 * the process's peak RSS rose above its RSS before (VmHWM, reset through /proc/self/clear_refs).
 *
 *   npm run bench:runlog -- [--sizes 10000,100000]
 *
 * Prints a table, then one JSON line with every figure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeRunOutputs } from '../src/run-outputs.js';
import { parseJson, stringifyJson } from '../src/exact-json.js';
import { linkedOutputs } from '../src/wes/linked-outputs.js';
import { outputLinker } from '../src/wes/output-links.js';

const RUN_URL = 'http://wes.test/ga4gh/wes/v1/runs/r1';

interface Row {
  n: number;
  way: 'pieces' | 'whole (before)';
  megabytes: number;
  ms: number;
  longestStallMs: number;
  peakRssRiseMiB: number;
}

function statusMiB(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(match?.[1] ?? NaN) / 1024;
}

/** Runs `work`, timing it and the largest gap between 1 ms timers while it runs. */
async function measured(work: () => Promise<unknown>): Promise<{ ms: number; longestStallMs: number; peakRssRiseMiB: number }> {
  globalThis.gc?.();
  // Writing 5 resets the peak (VmHWM) to the current RSS.
  writeFileSync('/proc/self/clear_refs', '5');
  const rssBefore = statusMiB('VmRSS');
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  // The stall that ends with the work is only seen by the next timer.
  await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(timer);
  return { ms, longestStallMs: longest, peakRssRiseMiB: Math.max(0, statusMiB('VmHWM') - rssBefore) };
}

async function rowsFor(n: number): Promise<Row[]> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'wes-bench-runlog-'));
  try {
    const out = Array.from({ length: n }, (_, i) => {
      const file = path.join(runDir, 'work', 'jobs', `echo.${i}`, '3f2a9c0d4e5b6a7c8d9e0f1a2b3c4d5e.stdout');
      return { class: 'File', location: `file://${file}`, path: file, basename: path.basename(file), nameroot: '3f2a9c0d4e5b6a7c8d9e0f1a2b3c4d5e', nameext: '.stdout', size: 6, checksum: `sha1$${i.toString(16).padStart(40, 'f')}` };
    });
    await writeRunOutputs(runDir, { out });
    const file = path.join(runDir, 'outputs.json');
    const megabytes = readFileSync(file).length / 1e6;
    const pieces = await measured(async () => {
      const linked = await linkedOutputs(runDir, RUN_URL);
      let bytes = linked?.first.length ?? 0;
      if (linked?.rest !== undefined) for await (const piece of linked.rest) bytes += piece.length;
      return bytes;
    });
    const link = outputLinker(runDir, RUN_URL);
    const whole = await measured(async () => Buffer.from(stringifyJson(link(parseJson(readFileSync(file, 'utf8'))))));
    return [
      { n, way: 'pieces', megabytes, ...pieces },
      { n, way: 'whole (before)', megabytes, ...whole },
    ];
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

function table(rows: Row[]): string {
  const header = ['N', 'outputs.json MB', 'linked', 'ms', 'longest event-loop stall ms', 'peak RSS rise MiB'];
  const cells = rows.map((r) => [r.n.toLocaleString('en-US'), r.megabytes.toFixed(1), r.way, r.ms.toFixed(0), r.longestStallMs.toFixed(0), r.peakRssRiseMiB.toFixed(0)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padStart(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const argv = process.argv.slice(2);
const i = argv.indexOf('--sizes');
const sizes = (i >= 0 ? argv[i + 1] : '10000,100000').split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes takes positive integers');
const rows: Row[] = [];
for (const n of sizes) rows.push(...(await rowsFor(n)));
process.stdout.write(`${table(rows)}\n`);
process.stdout.write(`${JSON.stringify({ bench: 'runlog', rows })}\n`);
