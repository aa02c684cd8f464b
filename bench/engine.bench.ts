/**
 * Engine throughput, end to end through the API: a real `wes serve` (SQLite, or PostgreSQL with
 * --dialect postgres) runs a scatter of `echo` over N strings; the time from POST /runs to
 * COMPLETE, ms per job, the server's peak RSS (VmHWM; before GET /runs/{id} too), the worst latency (and when) and p99 of GET
 * /service-info, of the first task page and of a middle one (`?from=` the job of element N/2)
 * while the run goes on, the middle page once the run is over, and GET /runs/{id} (every
 * output) with the worst GET /service-info while it is answered. With --cancel, a second run
 * of each size is canceled once a tenth of its jobs are done: the time from the cancel request
 * to CANCELED, and the jobs still running at that moment (the task summary). Beside it, the floor: the same N
 * `echo` processes spawned bare from Node as many at a time as the server runs (the job slots),
 * and cwltool's time on the same workflow where it is installed and N ≤ 10,000.
 *
 *   npm run bench:engine -- [--sizes 1000,10000,100000] [--sandbox none,bwrap] [--no-cwltool]
 *                           [--dialect sqlite|postgres] [--max-jobs 2] [--cancel | --cancel-only] [--no-floor]
 *
 * --cancel-only makes only the canceled run (at 100,000 jobs the full run alone takes ~25 minutes).
 *
 * Prints a table, then one JSON line with every figure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '../test/helpers/dialects.js';
import type { Dialect } from '../src/store/dialect.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CWLTOOL_MAX_N = 10_000;
const PROBE_INTERVAL_MS = 50;

const ECHO_TOOL = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  msg: {type: string, inputBinding: {position: 1}}
outputs:
  out: stdout
`;
const SCATTER_WORKFLOW = `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs:
  msgs: string[]
outputs:
  out: {type: 'File[]', outputSource: echo/out}
steps:
  echo:
    run: echo.cwl
    scatter: msg
    in: {msg: msgs}
    out: [out]
`;

type Sandbox = 'none' | 'bwrap';

interface Options {
  readonly sizes: number[];
  readonly sandboxes: Sandbox[];
  readonly cwltool: boolean;
  /** False with --no-floor: at 100,000 jobs the floor alone takes as long as the run. */
  readonly floor: boolean;
  readonly dialect: Dialect;
  readonly maxJobs: number;
  readonly cancel: boolean;
  /** False with --cancel-only. */
  readonly fullRun: boolean;
}

/** What one full run gives (absent with --cancel-only). */
interface RunFigures {
  state: string;
  wallSeconds: number;
  msPerJob: number;
  peakRssMiB: number;
  /** Before GET /runs/{id} is asked for (peakRssMiB is after it). */
  peakRssBeforeRunLogMiB: number;
  worstServiceInfoMs: number;
  /** Seconds after the submission. */
  worstServiceInfoAtSeconds: number;
  p99ServiceInfoMs: number;
  /** The server's own longest event-loop stall (its /metrics) during the run, and during the RunLog. */
  worstLoopStallMs: number;
  worstLoopStallDuringRunLogMs: number;
  worstTaskPageMs: number;
  worstMiddlePageMs: number;
  middlePageAfterMs: number;
  /** GET /runs/{id} once the run is over (its outputs are N Files), and the worst GET /service-info meanwhile. */
  runLogMs: number;
  worstServiceInfoDuringRunLogMs: number;
}

interface Row extends Partial<RunFigures> {
  n: number;
  sandbox: Sandbox;
  dialect: Dialect;
  floorSeconds?: number;
  ratioToFloor?: number;
  cwltoolSeconds?: number;
  cancelSeconds?: number;
  runningAfterCancel?: number;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = (value('--sizes') ?? '1000,10000').split(',').map((s) => Number(s.replace(/_/g, '')));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes takes positive integers, e.g. 1000,10000');
  const sandboxes = (value('--sandbox') ?? 'none').split(',') as Sandbox[];
  if (sandboxes.some((s) => s !== 'none' && s !== 'bwrap')) throw new Error('--sandbox takes none and/or bwrap');
  const dialect = (value('--dialect') ?? 'sqlite') as Dialect;
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('--dialect takes sqlite or postgres');
  const maxJobs = Number(value('--max-jobs') ?? 2);
  return { sizes, sandboxes, cwltool: !argv.includes('--no-cwltool'), floor: !argv.includes('--no-floor'), dialect, maxJobs, cancel: argv.includes('--cancel') || argv.includes('--cancel-only'), fullRun: !argv.includes('--cancel-only') };
}

interface Server {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  stop(): Promise<void>;
}

async function startServer(database: TestDatabase, sandbox: Sandbox, maxJobs: number): Promise<Server> {
  // WES_BENCH_PROFILE_DIR: the server writes a CPU profile there (node --cpu-prof) when it stops.
  const profile = process.env.WES_BENCH_PROFILE_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env.WES_BENCH_PROFILE_DIR];
  // The compiled server, as `npm start` runs it (built once in main()).
  const child = spawn(process.execPath, [...profile, join(ROOT, 'dist/main.js'), 'serve', '--no-auth', '--port', '0'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      WES_DATA_DIR: database.dataDir,
      WES_MAX_JOBS: String(maxJobs),
      WES_JOB_SANDBOX: sandbox,
      ...(database.databaseUrl === undefined ? {} : { DATABASE_URL: database.databaseUrl }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const lines = createInterface({ input: child.stdout! });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/\S+?)\/ga4gh/.exec(line);
      if (match !== null) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`wes serve exited with ${code} before listening`)));
  });
  lines.on('line', () => undefined);
  return { child, baseUrl, stop };
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

const FINAL = ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'];

interface TaskPage {
  readonly task_logs?: readonly { readonly id: string }[];
}

async function submitScatter(api: string, n: number): Promise<string> {
  const form = new FormData();
  form.set('workflow_type', 'CWL');
  form.set('workflow_type_version', 'v1.2');
  form.set('workflow_url', 'wf.cwl');
  form.set('workflow_params', JSON.stringify({ msgs: Array.from({ length: n }, (_, i) => `m${i}`) }));
  form.append('workflow_attachment', new Blob([SCATTER_WORKFLOW]), 'wf.cwl');
  form.append('workflow_attachment', new Blob([ECHO_TOOL]), 'echo.cwl');
  const submitted = await fetch(`${api}/runs`, { method: 'POST', body: form });
  if (!submitted.ok) throw new Error(`submit: ${submitted.status} ${await submitted.text()}`);
  return ((await submitted.json()) as { run_id: string }).run_id;
}

/** The id of element N/2's job, from the first page's first job ("<step>.<element>"), once the jobs are planned. */
function middleTaskId(page: TaskPage, n: number): string | undefined {
  const job = page.task_logs?.find((task) => /\.\d+$/.test(task.id));
  return job === undefined ? undefined : job.id.replace(/\.\d+$/, `.${Math.floor(n / 2)}`);
}

async function middlePage(api: string, runId: string, from: string): Promise<{ ms: number; value: TaskPage }> {
  return timed(async () => {
    const response = await fetch(`${api}/runs/${runId}/tasks?page_size=100&from=${encodeURIComponent(from)}`);
    if (!response.ok) throw new Error(`middle page: ${response.status} ${await response.text()}`);
    return (await response.json()) as TaskPage;
  });
}

/**
 * A second run of the same size, canceled once a tenth of its jobs are done: seconds from the
 * cancel request to CANCELED, and how many jobs the task summary still counts as running then.
 */
async function cancelThroughApi(n: number, sandbox: Sandbox, options: Options): Promise<{ cancelSeconds: number; runningAfterCancel: number }> {
  const database = await createTestDatabase(options.dialect);
  const server = await startServer(database, sandbox, options.maxJobs);
  try {
    const api = `${server.baseUrl}/ga4gh/wes/v1`;
    const runId = await submitScatter(api, n);
    const summary = async (): Promise<Record<string, number>> =>
      ((await (await fetch(`${api}/runs/${runId}/task-summary`)).json()) as { states?: Record<string, number> }).states ?? {};
    while (((await summary()).complete ?? 0) < n / 10) await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    const canceled = performance.now();
    const response = await fetch(`${api}/runs/${runId}/cancel`, { method: 'POST' });
    if (!response.ok) throw new Error(`cancel: ${response.status} ${await response.text()}`);
    let state = 'CANCELING';
    while (!FINAL.includes(state)) {
      state = ((await (await fetch(`${api}/runs/${runId}/status`)).json()) as { state: string }).state;
      if (!FINAL.includes(state)) await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
    const cancelSeconds = (performance.now() - canceled) / 1000;
    if (state !== 'CANCELED') throw new Error(`the canceled run ended ${state}`);
    return { cancelSeconds, runningAfterCancel: (await summary()).running ?? 0 };
  } finally {
    await server.stop();
    await database.drop();
  }
}

async function runThroughApi(n: number, sandbox: Sandbox, options: Options): Promise<Pick<Row, 'n' | 'sandbox' | 'dialect'> & RunFigures> {
  const database = await createTestDatabase(options.dialect);
  const server = await startServer(database, sandbox, options.maxJobs);
  try {
    const api = `${server.baseUrl}/ga4gh/wes/v1`;
    await loopStallMs(server.baseUrl);
    const started = performance.now();
    const runId = await submitScatter(api, n);
    const serviceInfoMs: number[] = [];
    let worstServiceInfoMs = 0;
    let worstServiceInfoAtSeconds = 0;
    let worstTaskPageMs = 0;
    let worstMiddlePageMs = 0;
    let middle: string | undefined;
    let state = 'QUEUED';
    while (!FINAL.includes(state)) {
      const info = await timed(() => fetch(`${api}/service-info`).then((r) => r.arrayBuffer()));
      serviceInfoMs.push(info.ms);
      if (info.ms > worstServiceInfoMs) {
        worstServiceInfoMs = info.ms;
        worstServiceInfoAtSeconds = (performance.now() - started) / 1000;
      }
      const page = await timed(() => fetch(`${api}/runs/${runId}/tasks?page_size=100`).then((r) => r.json() as Promise<TaskPage>));
      worstTaskPageMs = Math.max(worstTaskPageMs, page.ms);
      middle ??= middleTaskId(page.value, n);
      if (middle !== undefined) worstMiddlePageMs = Math.max(worstMiddlePageMs, (await middlePage(api, runId, middle)).ms);
      const status = (await (await fetch(`${api}/runs/${runId}/status`)).json()) as { state: string };
      state = status.state;
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const after: number[] = [];
    for (let i = 0; i < 5 && middle !== undefined; i++) after.push((await middlePage(api, runId, middle)).ms);
    const peakRssBeforeRunLogMiB = peakRssMiB(server.child.pid!);
    const worstLoopStallMs = await loopStallMs(server.baseUrl);
    const runLog = await runLogWithProbes(api, runId);
    const worstLoopStallDuringRunLogMs = await loopStallMs(server.baseUrl);
    return {
      n,
      sandbox,
      dialect: options.dialect,
      state,
      wallSeconds,
      msPerJob: (wallSeconds * 1000) / n,
      peakRssMiB: peakRssMiB(server.child.pid!),
      peakRssBeforeRunLogMiB,
      worstServiceInfoMs,
      worstServiceInfoAtSeconds,
      worstLoopStallMs,
      worstLoopStallDuringRunLogMs,
      p99ServiceInfoMs: serviceInfoMs.sort((a, b) => a - b)[Math.floor(serviceInfoMs.length * 0.99)] ?? 0,
      worstTaskPageMs,
      worstMiddlePageMs,
      middlePageAfterMs: after.sort((a, b) => a - b)[Math.floor(after.length / 2)] ?? 0,
      ...runLog,
    };
  } finally {
    await server.stop();
    await database.drop();
  }
}

/** The server's longest event-loop stall since the previous call (the first starts its watch). */
async function loopStallMs(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const seconds = /^wes_event_loop_delay_max_seconds (\S+)$/m.exec(text)?.[1];
  if (seconds === undefined) throw new Error('the server\'s /metrics has no wes_event_loop_delay_max_seconds');
  return Number(seconds) * 1000;
}

/** GET /runs/{id} (the RunLog with every output), probing GET /service-info while it is answered. */
async function runLogWithProbes(api: string, runId: string): Promise<{ runLogMs: number; worstServiceInfoDuringRunLogMs: number }> {
  let answered = false;
  const runLog = timed(async () => {
    const response = await fetch(`${api}/runs/${runId}`);
    if (!response.ok) throw new Error(`run log: ${response.status}`);
    await response.arrayBuffer();
  }).finally(() => (answered = true));
  let worst = 0;
  while (!answered) {
    const info = await timed(() => fetch(`${api}/service-info`).then((r) => r.arrayBuffer()));
    worst = Math.max(worst, info.ms);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { runLogMs: (await runLog).ms, worstServiceInfoDuringRunLogMs: worst };
}

/** The same N echo processes, stdout to a file each, `slots` at a time, started bare from Node. */
async function floorSeconds(n: number, sandbox: Sandbox, slots: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wes-bench-floor-'));
  const wrap = (argv: string[]): string[] =>
    sandbox === 'bwrap'
      ? ['bwrap', '--unshare-all', '--die-with-parent', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--bind', dir, dir, '--proc', '/proc', '--dev', '/dev', '--', ...argv]
      : argv;
  try {
    const started = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const out = openSync(join(dir, `${i}.out`), 'w');
        const argv = wrap(['echo', `m${i}`]);
        await new Promise<void>((resolve, reject) => {
          const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, 'inherit'], cwd: dir });
          child.once('error', reject);
          child.once('exit', () => resolve());
        });
        closeSync(out);
      }
    };
    await Promise.all(Array.from({ length: slots }, worker));
    return (performance.now() - started) / 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cwltoolSeconds(n: number): number | undefined {
  if (spawnSync('cwltool', ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'wes-bench-cwltool-'));
  try {
    writeFileSync(join(dir, 'wf.cwl'), SCATTER_WORKFLOW);
    writeFileSync(join(dir, 'echo.cwl'), ECHO_TOOL);
    writeFileSync(join(dir, 'job.json'), JSON.stringify({ msgs: Array.from({ length: n }, (_, i) => `m${i}`) }));
    const started = performance.now();
    const result = spawnSync('cwltool', ['--quiet', '--outdir', join(dir, 'out'), join(dir, 'wf.cwl'), join(dir, 'job.json')], {
      stdio: 'ignore',
    });
    if (result.status !== 0) return undefined;
    return (performance.now() - started) / 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(rows: Row[]): string {
  const header = ['N', 'sandbox', 'db', 'state', 'wall s', 'ms/job', 'peak RSS MiB (before run log)', 'worst svc-info ms (at s)', 'p99 svc-info ms', 'server loop stall ms', 'worst page ms', 'worst mid page ms', 'mid page after ms', 'run log ms (worst svc-info, loop stall meanwhile)', 'floor s', '× floor', 'cwltool s', 'cancel s', 'running after cancel'];
  const fixed = (value: number | undefined, digits: number): string => value?.toFixed(digits) ?? '-';
  const cells = rows.map((r) => [
    r.n.toLocaleString('en-US'),
    r.sandbox,
    r.dialect,
    r.state ?? '-',
    fixed(r.wallSeconds, 2),
    fixed(r.msPerJob, 2),
    r.peakRssMiB === undefined ? '-' : `${r.peakRssMiB.toFixed(0)} (${fixed(r.peakRssBeforeRunLogMiB, 0)})`,
    r.worstServiceInfoMs === undefined ? '-' : `${r.worstServiceInfoMs.toFixed(0)} (${fixed(r.worstServiceInfoAtSeconds, 0)})`,
    fixed(r.p99ServiceInfoMs, 0),
    fixed(r.worstLoopStallMs, 0),
    fixed(r.worstTaskPageMs, 0),
    fixed(r.worstMiddlePageMs, 0),
    fixed(r.middlePageAfterMs, 1),
    r.runLogMs === undefined ? '-' : `${r.runLogMs.toFixed(0)} (${fixed(r.worstServiceInfoDuringRunLogMs, 0)}, ${fixed(r.worstLoopStallDuringRunLogMs, 0)})`,
    fixed(r.floorSeconds, 2),
    fixed(r.ratioToFloor, 2),
    fixed(r.cwltoolSeconds, 1),
    fixed(r.cancelSeconds, 2),
    r.runningAfterCancel === undefined ? '-' : String(r.runningAfterCancel),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padStart(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const rows: Row[] = [];
  for (const sandbox of options.sandboxes) {
    for (const n of options.sizes) {
      const api = options.fullRun ? await runThroughApi(n, sandbox, options) : undefined;
      const floor = options.floor ? await floorSeconds(n, sandbox, options.maxJobs) : undefined;
      const cwltool = options.cwltool && sandbox === 'none' && n <= CWLTOOL_MAX_N ? cwltoolSeconds(n) : undefined;
      const cancel = options.cancel ? await cancelThroughApi(n, sandbox, options) : {};
      const ratioToFloor = floor === undefined || api === undefined ? undefined : api.wallSeconds / floor;
      const row: Row = { ...(api ?? { n, sandbox, dialect: options.dialect }), floorSeconds: floor, ratioToFloor, cwltoolSeconds: cwltool, ...cancel };
      rows.push(row);
      process.stderr.write(`done: N=${n} sandbox=${sandbox}\n`);
    }
  }
  process.stdout.write(`${table(rows)}\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'engine', maxJobs: options.maxJobs, rows })}\n`);
}

await main();
