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
  materializeOutputs,
  loadProcess,
  parseYaml,
  prepareInputs,
  type CwlObject,
  type CwlValue,
  type LoadedProcess,
} from '../src/engine/index.js';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { PathPolicy } from '../src/engine/values/path-policy.js';
import { JobWrapper } from '../src/executors/job-wrapper.js';
import { containerWrapper } from '../src/executors/container/container-wrapper.js';
import { selectJobSandbox } from '../src/executors/sandbox/job-sandbox.js';
import { loadConfig } from '../src/config.js';
import { parseJson, stringifyJson } from '../src/exact-json.js';
import { detectContainerEngine } from '../src/executors/container/container-engine.js';
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
  // Integers beyond 2^53 are read exactly (bigint), as cwltest's PyYAML reads them.
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
      // The suite's own files are the "allowed input directory" of these runs.
      const policy = await PathPolicy.create(runDir, [suiteDir]);
      // Through JSON text, as the server stores and serves outputs.
      actual = parseJson(
        stringifyJson(await materializeOutputs(await executeProcess(process, inputs, { runDir, logsDir: join(runDir, 'logs'), policy, executor, containers: noContainers === undefined, host: nullEngineHost, signal }))),
      ) as CwlObject;
    } catch (error) {
      if (test.shouldFail) return { kind: 'passed' };
      const reason = error instanceof CancelledError && signal.aborted ? `timed out after ${timeoutMs / 1000}s` : String(error);
      return { kind: 'failed', reason };
    }
    if (test.shouldFail) return { kind: 'failed', reason: `should have failed, returned ${stringifyJson(actual)}` };
    const mismatch = await compare(test.output, actual, '');
    return mismatch === undefined ? { kind: 'passed' } : { kind: 'failed', reason: mismatch };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/** cwltest's comparison; returns why `actual` does not match, or undefined. */
async function compare(expected: CwlValue, actual: CwlValue | undefined, where: string): Promise<string | undefined> {
  if (expected === 'Any') return undefined;
  const fail = `${where || 'output'}: expected ${stringifyJson(expected)}, got ${stringifyJson(actual)}`;
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
  return sameScalar(expected, actual) ? undefined : fail;
}

/**
 * Equality as Python's `==` (cwltest): numbers by exact value, so 42 equals 42.0 but an
 * integer written with 43 digits equals only that integer, never the nearest double.
 */
function sameScalar(expected: CwlValue, actual: CwlValue | undefined): boolean {
  if (typeof expected === 'bigint' && typeof actual === 'number') return Number.isInteger(actual) && BigInt(actual) === expected;
  if (typeof expected === 'number' && typeof actual === 'bigint') return Number.isInteger(expected) && BigInt(expected) === actual;
  return expected === actual;
}

async function compareFile(e: CwlObject, a: CwlObject, where: string): Promise<string | undefined> {
  if (e.class === 'Directory') {
    if (a.class !== 'Directory' || !Array.isArray(a.listing)) return `${where}: expected a Directory with a listing, got ${stringifyJson(a)}`;
    for (const item of Array.isArray(e.listing) ? e.listing : []) {
      let found = false;
      for (const candidate of a.listing) if ((await compare(item, candidate, where)) === undefined) found = true;
      if (!found) return `${where}: ${stringifyJson(item)} not found in listing ${stringifyJson(a.listing)}`;
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
  console.log(noContainers === undefined ? `containers: ${detected.engine?.version}` : `containers: none (${noContainers})`);
  // Jobs are confined as the server would confine them (WES_JOB_SANDBOX, bubblewrap by default).
  const sandboxDir = await mkdtemp(join(tmpdir(), 'cwl-conformance-sandbox-'));
  const sandbox = await selectJobSandbox(loadConfig().jobSandbox, { hiddenPaths: [], stateDir: sandboxDir, maxProcesses: 1024 });
  console.log(sandbox.message);
  const executor = new LocalExecutor({ maxJobs: parallel, wrapper: new JobWrapper({
      sandbox: sandbox.wrapper,
      container: noContainers === undefined && detected.engine !== undefined ? containerWrapper(detected.engine) : undefined,
    }) });
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
  await rm(sandboxDir, { recursive: true, force: true });

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
