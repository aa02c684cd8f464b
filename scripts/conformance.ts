/**
 * CWL v1.2 conformance runner: reads the suite's conformance_tests.yaml (following
 * `$import`s), runs each selected test in-process through the engine with a LocalExecutor
 * and a host that only records, and judges the result the way cwltest does (expected output
 * objects, `Any`, File locations compared by basename, checksum/size, should_fail).
 *
 *   npm run conformance -- [--tags a,b] [--id x,y] [-j N] [--timeout seconds]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CancelledError } from '../src/errors.js';
import {
  executeProcess,
  loadProcess,
  parseYaml,
  prepareInputs,
  type CwlObject,
  type CwlValue,
  type LoadedProcess,
} from '../src/engine/index.js';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { detectContainerEngine } from '../src/executors/container/container-engine.js';
import { wrapperFor } from '../src/executors/wrapper-by-image.js';
import { buildTestImages } from '../test/helpers/test-images.js';
import { nullEngineHost } from '../test/helpers/null-engine-host.js';

const suiteDir = resolve(dirname(fileURLToPath(import.meta.url)), '../vendor/cwl-v1.2');

interface TestCase {
  readonly id: string;
  readonly dir: string;
  readonly tool: string;
  readonly job?: string;
  readonly output: CwlValue;
  readonly shouldFail: boolean;
  readonly tags: readonly string[];
}

type Verdict = { readonly kind: 'passed' } | { readonly kind: 'failed' | 'skipped'; readonly reason: string };

const { values: args } = parseArgs({
  options: {
    tags: { type: 'string' },
    id: { type: 'string' },
    j: { type: 'string', short: 'j', default: '4' },
    timeout: { type: 'string', default: '180' },
  },
});

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The expected output object, read from its own file when written `{$import: file}`. */
async function expectedOutput(output: unknown, dir: string): Promise<CwlValue> {
  if (isObject(output) && typeof output.$import === 'string') return parseYaml(await readFile(resolve(dir, output.$import), 'utf8')) as CwlValue;
  return (output ?? null) as CwlValue;
}

async function readTests(file: string): Promise<TestCase[]> {
  const entries = parseYaml(await readFile(file, 'utf8'));
  const dir = dirname(file);
  const tests: TestCase[] = [];
  for (const entry of Array.isArray(entries) ? entries : []) {
    if (!isObject(entry)) continue;
    if (typeof entry.$import === 'string') {
      tests.push(...(await readTests(resolve(dir, entry.$import))));
      continue;
    }
    tests.push({
      id: String(entry.id ?? entry.label ?? `test-${tests.length}`),
      dir,
      tool: String(entry.tool),
      job: typeof entry.job === 'string' ? entry.job : undefined,
      output: await expectedOutput(entry.output, dir),
      shouldFail: entry.should_fail === true,
      tags: Array.isArray(entry.tags) ? entry.tags.map(String) : [],
    });
  }
  return tests;
}

function needsDocker(process: LoadedProcess): boolean {
  if (process.requirements.some((r) => r.class === 'DockerRequirement')) return true;
  return process.class === 'Workflow' && process.steps.some((s) => s.requirements.some((r) => r.class === 'DockerRequirement') || needsDocker(s.run));
}

/** Why container tests cannot run here, or undefined when they can. */
type NoContainers = string | undefined;

async function runTest(test: TestCase, executor: LocalExecutor, noContainers: NoContainers, timeoutMs: number): Promise<Verdict> {
  if (noContainers !== undefined && test.tags.includes('docker')) return { kind: 'skipped', reason: noContainers };
  const runDir = await mkdtemp(join(tmpdir(), 'cwl-conformance-'));
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    let actual: CwlObject;
    try {
      const process = await loadProcess({ documentUrl: resolve(test.dir, test.tool), baseDir: '/', allowUrl: () => true });
      if (noContainers !== undefined && needsDocker(process)) return { kind: 'skipped', reason: noContainers };
      const jobPath = test.job === undefined ? undefined : resolve(test.dir, test.job);
      const job = jobPath === undefined ? {} : parseYaml(await readFile(jobPath, 'utf8'));
      const inputs = prepareInputs(process, isObject(job) ? (job as CwlObject) : {}, jobPath === undefined ? test.dir : dirname(jobPath));
      actual = await executeProcess(process, inputs, { runDir, executor, containers: noContainers === undefined, host: nullEngineHost, signal });
    } catch (error) {
      if (test.shouldFail) return { kind: 'passed' };
      const reason = error instanceof CancelledError && signal.aborted ? `timed out after ${timeoutMs / 1000}s` : String(error);
      return { kind: 'failed', reason };
    }
    if (test.shouldFail) return { kind: 'failed', reason: `should have failed, returned ${JSON.stringify(actual)}` };
    const mismatch = await compare(test.output, actual, '');
    return mismatch === undefined ? { kind: 'passed' } : { kind: 'failed', reason: mismatch };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/** cwltest's comparison; returns why `actual` does not match, or undefined. */
async function compare(expected: CwlValue, actual: CwlValue | undefined, where: string): Promise<string | undefined> {
  if (expected === 'Any') return undefined;
  const fail = `${where || 'output'}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
  if (expected !== null && (actual === null || actual === undefined)) return fail;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return fail;
    for (const [i, e] of expected.entries()) {
      const m = await compare(e, actual[i], `${where}[${i}]`);
      if (m !== undefined) return m;
    }
    return undefined;
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return fail;
    const e = expected as CwlObject;
    const a = actual as CwlObject;
    if (e.class === 'File' || e.class === 'Directory') return compareFile(e, a, where);
    for (const key of Object.keys(e)) {
      const m = await compare(e[key], a[key] ?? null, `${where}.${key}`);
      if (m !== undefined) return m;
    }
    const extra = Object.keys(a).find((k) => !(k in e) && a[k] !== null);
    return extra === undefined ? undefined : `${where || 'output'}: unexpected key ${extra}`;
  }
  return expected === actual ? undefined : fail;
}

async function compareFile(e: CwlObject, a: CwlObject, where: string): Promise<string | undefined> {
  if (e.class === 'Directory') {
    if (a.class !== 'Directory' || !Array.isArray(a.listing)) return `${where}: expected a Directory with a listing, got ${JSON.stringify(a)}`;
    for (const item of Array.isArray(e.listing) ? e.listing : []) {
      let found = false;
      for (const candidate of a.listing) if ((await compare(item, candidate, where)) === undefined) found = true;
      if (!found) return `${where}: ${JSON.stringify(item)} not found in listing ${JSON.stringify(a.listing)}`;
    }
  }
  const key = 'path' in e ? 'path' : 'location' in e ? 'location' : undefined;
  if (key !== undefined && e[key] !== 'Any') {
    let got = String(a[key] ?? a.location ?? '');
    if (a.class === 'Directory') got = got.replace(/\/+$/, '');
    const want = String(e[key]);
    if (!(got.endsWith(`/${want}`) || (!got.includes('/') && got === want))) return `${where}: ${got} does not end with ${want}`;
  }
  if (typeof e.contents === 'string') {
    const text = await readFile(String(a.path), 'utf8');
    if (text !== e.contents) return `${where}: contents ${JSON.stringify(text)} != ${JSON.stringify(e.contents)}`;
  }
  for (const k of Object.keys(e)) {
    if (['path', 'location', 'listing', 'contents'].includes(k)) continue;
    const m = await compare(e[k], a[k] ?? null, `${where}.${k}`);
    if (m !== undefined) return m;
  }
  return undefined;
}

async function main(): Promise<void> {
  const wantedTags = args.tags?.split(',').filter((t) => t !== '');
  const wantedIds = args.id?.split(',').filter((t) => t !== '');
  const all = await readTests(join(suiteDir, 'conformance_tests.yaml'));
  const tests = all.filter(
    (t) => (wantedTags === undefined || t.tags.some((tag) => wantedTags.includes(tag))) && (wantedIds === undefined || wantedIds.includes(t.id)),
  );
  const parallel = Math.max(1, Number(args.j));
  const detected = await detectContainerEngine(process.env);
  let noContainers: NoContainers = detected.engine === undefined ? detected.problem : undefined;
  if (detected.engine !== undefined) {
    // The suite's images (debian, python, bash, alpine) come from no registry: built here once.
    noContainers = await buildTestImages(detected.engine.name);
  }
  const wrapper = noContainers === undefined ? wrapperFor(detected.engine) : undefined;
  console.log(noContainers === undefined ? `containers: ${detected.engine?.version}` : `containers: none (${noContainers})`);
  const executor = new LocalExecutor({ maxJobs: parallel, wrapper });
  const verdicts = new Map<TestCase, Verdict>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tests.length) {
      const test = tests[next++];
      const verdict = await runTest(test, executor, noContainers, Number(args.timeout) * 1000);
      verdicts.set(test, verdict);
      if (verdict.kind !== 'passed') console.log(`${verdict.kind === 'failed' ? 'FAIL' : 'SKIP'} ${test.id}: ${verdict.reason}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  await executor.shutdown();

  const table = new Map<string, { passed: number; failed: number; skipped: number }>();
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const test of tests) {
    const kind = verdicts.get(test)?.kind ?? 'failed';
    counts[kind]++;
    for (const tag of test.tags) {
      const row = table.get(tag) ?? { passed: 0, failed: 0, skipped: 0 };
      row[kind]++;
      table.set(tag, row);
    }
  }
  console.log('');
  console.log(`${'tag'.padEnd(28)}${'passed'.padStart(8)}${'failed'.padStart(8)}${'skipped'.padStart(9)}`);
  for (const [tag, row] of [...table].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`${tag.padEnd(28)}${String(row.passed).padStart(8)}${String(row.failed).padStart(8)}${String(row.skipped).padStart(9)}`);
  }
  console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  process.exitCode = counts.failed > 0 ? 1 : 0;
}

await main();
