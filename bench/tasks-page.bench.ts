/**
 * Task page benchmark: our keyset listTasksPage against the pagination plan's shapes
 * (UNION ALL + LIMIT/OFFSET, the same UNION ALL under a plain keyset WHERE) and against
 * loading the whole run, on runs of ~10k, ~100k and ~1M tasks, SQLite and PostgreSQL.
 *
 *   npm run bench:tasks -- [--sizes 10k,100k,1m] [--dialects sqlite,postgres] [--repeat N] [--rows pages,states]
 *
 * Per (dialect, size, implementation, page position: first, middle, last; page_size 100):
 * queries per page, median time over N repetitions, peak live heap (the heap after a full GC
 * at each stage where a query result or built structure is live, minus the heap before).
 * For the largest run of each dialect, the EXPLAIN of our page query and whether it stays on
 * indexes. Prints a table, ratios and goals, and last one JSON line with every figure.
 * `--rows states` adds (or, alone, runs only) issue 10's rows: bench/task-states-rows.ts.
 */
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { sql, type Kysely } from 'kysely';
import { openStore, type Store } from '../src/store/connect.js';
import type { Database } from '../src/store/database.js';
import type { Dialect } from '../src/store/dialect.js';
import { listTasksPage, STEP_LEVEL_JOB_INDEX, type TaskCursor } from '../src/store/queries/tasks.js';
import { insertUser } from '../src/store/queries/users.js';
import { countSeedTasks, seedRun, seedShape } from '../src/wes/seed.js';
import {
  fromTaskRows,
  loadEverythingPage,
  planOffsetPage,
  planPositionAt,
  plainKeysetPage,
  type BenchTask,
  type PlanPosition,
  type Probe,
} from './baselines.js';
import { explainQuery, type CapturedQuery, type PlanVerdict } from '../test/helpers/plan-verdict.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/dialects.js';
import { benchJobSeconds, benchJobState, measureStateRows, stateRatios, type StateRow } from './task-states-rows.js';

const PG_ADMIN_URL = process.env.WES_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PAGE_SIZE = 100;

const SHAPES = {
  '10k': { inputs: 2, steps: 100, mapped: 50, elements: 200 },
  '100k': { inputs: 2, steps: 100, mapped: 50, elements: 2_000 },
  '1m': { inputs: 2, steps: 1_000, mapped: 500, elements: 2_000 },
} as const;
type SizeName = keyof typeof SHAPES;

const IMPLEMENTATIONS = ['ours', 'plan-offset', 'plain-keyset', 'load-everything'] as const;
type Impl = (typeof IMPLEMENTATIONS)[number];
const POSITIONS = ['first', 'middle', 'last'] as const;
type Position = (typeof POSITIONS)[number];

const ROW_SETS = ['pages', 'states'] as const;
type RowSet = (typeof ROW_SETS)[number];

interface Options {
  readonly sizes: SizeName[];
  readonly dialects: Dialect[];
  readonly repeat: number;
  readonly rows: RowSet[];
}

interface Measurement {
  dialect: Dialect;
  size: SizeName;
  tasks: number;
  impl: Impl;
  page: Position;
  offset: number;
  queries: number;
  medianMs: number;
  minMs: number;
  reps: number;
  peakHeapKiB: number;
}

interface SeedTiming {
  dialect: Dialect;
  size: SizeName;
  tasks: number;
  seconds: number;
}

interface ExplainResult {
  dialect: Dialect;
  size: SizeName;
  page: Position;
  indexOnly: boolean;
  fullScans: string[];
  unboundedSorts: string[];
  plan: string;
  withSeqScanOff?: { indexOnly: boolean; fullScans: string[]; unboundedSorts: string[]; plan: string };
}

// ---------------------------------------------------------------------------------------------

function parseOptions(argv: readonly string[]): Options {
  let sizes: SizeName[] = ['10k', '100k', '1m'];
  let dialects: Dialect[] = ['sqlite', 'postgres'];
  let repeat = 5;
  let rows: RowSet[] = [...ROW_SETS];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--sizes') {
      sizes = value()
        .split(',')
        .map((s) => {
          const name = s.trim().toLowerCase();
          if (!(name in SHAPES)) throw new Error(`unknown size ${s} (10k, 100k, 1m)`);
          return name as SizeName;
        });
    } else if (arg === '--dialects') {
      dialects = value()
        .split(',')
        .map((d) => {
          const name = d.trim().toLowerCase();
          if (name !== 'sqlite' && name !== 'postgres') throw new Error(`unknown dialect ${d}`);
          return name;
        });
    } else if (arg === '--repeat') {
      repeat = Number(value());
      if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat takes a positive integer');
    } else if (arg === '--rows') {
      rows = value()
        .split(',')
        .map((r) => {
          const name = r.trim().toLowerCase();
          if (!(ROW_SETS as readonly string[]).includes(name)) throw new Error(`unknown rows ${r} (${ROW_SETS.join(', ')})`);
          return name as RowSet;
        });
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run bench:tasks -- [--sizes 10k,100k,1m] [--dialects sqlite,postgres] [--repeat N] [--rows pages,states]');
      process.exit(0);
    } else {
      throw new Error(`unknown option ${arg}`);
    }
  }
  return { sizes, dialects, repeat, rows };
}

/** A full-GC function without --expose-gc on the command line. */
function getGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc: unknown = vm.runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('could not expose gc');
  return gc as () => void;
}
const gc = getGc();

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---------------------------------------------------------------------------------------------

interface BenchDatabase {
  readonly store: Store;
  readonly dialect: Dialect;
  readonly dataDir: string;
  /** Counts queries and keeps the last one seen. */
  readonly counter: { count: number; last: CapturedQuery | undefined; record?: (query: CapturedQuery) => void };
  drop(): Promise<void>;
}

async function openBenchDatabase(dialect: Dialect): Promise<BenchDatabase | undefined> {
  const counter: BenchDatabase['counter'] = { count: 0, last: undefined };
  const onQuery = (text: string, parameters: readonly unknown[]): void => {
    counter.count++;
    counter.last = { sql: text, parameters };
    counter.record?.(counter.last);
  };
  let database: TestDatabase;
  try {
    database = await createTestDatabase(dialect, PG_ADMIN_URL);
  } catch (error) {
    console.log(`note: PostgreSQL at ${PG_ADMIN_URL} unreachable (${(error as Error).message}); skipping postgres`);
    return undefined;
  }
  let store: Store;
  try {
    store = await openStore({ databaseUrl: database.databaseUrl, sqlitePath: database.sqlitePath, onQuery });
  } catch (error) {
    await database.drop();
    throw error;
  }
  return {
    store,
    dialect,
    dataDir: database.dataDir,
    counter,
    drop: async () => {
      await store.close();
      await database.drop();
    },
  };
}

// ---------------------------------------------------------------------------------------------

interface RunUnderTest {
  readonly size: SizeName;
  readonly invocationId: number;
  readonly tasks: number;
}

interface PageUnderTest {
  readonly position: Position;
  readonly offset: number;
  readonly cursor: TaskCursor | undefined;
  readonly planAfter: PlanPosition | undefined;
}

/** Our (sort_key, job_index) of the task at 0-based position `index` (setup, not timed). */
async function ourCursorAt(db: Kysely<Database>, invocationId: number, index: number): Promise<TaskCursor> {
  const { rows } = await sql<{ sort_key: string; job_index: number }>`
    select t.sort_key, t.job_index from (
      select s.sort_key as sort_key, ${sql.lit(STEP_LEVEL_JOB_INDEX)} as job_index
        from workflow_invocation_step s
       where s.workflow_invocation_id = ${invocationId} and s.collection_job_count = 0
      union all
      select a.step_sort_key as sort_key, a.order_index as job_index
        from implicit_collection_jobs_job_association a
       where a.workflow_invocation_id = ${invocationId}
    ) t order by t.sort_key, t.job_index limit 1 offset ${index}`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error(`no task at position ${index}`);
  return { sortKey: row.sort_key, jobIndex: Number(row.job_index) };
}

async function pagesOf(db: Kysely<Database>, run: RunUnderTest): Promise<PageUnderTest[]> {
  const pages = Math.ceil(run.tasks / PAGE_SIZE);
  const offsets: Record<Position, number> = { first: 0, middle: Math.floor(pages / 2) * PAGE_SIZE, last: (pages - 1) * PAGE_SIZE };
  const result: PageUnderTest[] = [];
  for (const position of POSITIONS) {
    const offset = offsets[position];
    result.push({
      position,
      offset,
      cursor: offset === 0 ? undefined : await ourCursorAt(db, run.invocationId, offset - 1),
      planAfter: offset === 0 ? undefined : await planPositionAt(db, run.invocationId, offset - 1),
    });
  }
  return result;
}

/** One page as the WES service asks for it: page_size + 1 rows to know whether more follow. */
async function runImpl(db: Kysely<Database>, impl: Impl, run: RunUnderTest, page: PageUnderTest, probe?: Probe): Promise<BenchTask[]> {
  const limit = PAGE_SIZE + 1;
  let tasks: BenchTask[];
  switch (impl) {
    case 'ours': {
      const rows = await listTasksPage(db, run.invocationId, page.cursor, limit);
      probe?.();
      tasks = fromTaskRows(rows);
      break;
    }
    case 'plan-offset':
      tasks = await planOffsetPage(db, run.invocationId, page.offset, limit, probe);
      break;
    case 'plain-keyset':
      tasks = await plainKeysetPage(db, run.invocationId, page.planAfter, limit, probe);
      break;
    case 'load-everything':
      tasks = await loadEverythingPage(db, run.invocationId, page.offset, limit, probe);
      break;
  }
  probe?.();
  return tasks.slice(0, PAGE_SIZE);
}

function signature(tasks: readonly BenchTask[]): string[] {
  return tasks.map((t) => `${t.id}:${t.jobId ?? '-'}`);
}

async function verify(bench: BenchDatabase, run: RunUnderTest, page: PageUnderTest): Promise<void> {
  const db = bench.store.db;
  const expectedLength = Math.min(PAGE_SIZE, run.tasks - page.offset);
  let reference: string[] | undefined;
  for (const impl of IMPLEMENTATIONS) {
    const got = signature(await runImpl(db, impl, run, page));
    if (got.length !== expectedLength) {
      throw new Error(`${bench.dialect} ${run.size} ${page.position}: ${impl} returned ${got.length} tasks, expected ${expectedLength}`);
    }
    if (reference === undefined) {
      reference = got;
      continue;
    }
    const at = got.findIndex((id, i) => id !== reference?.[i]);
    if (at !== -1) {
      throw new Error(
        `${bench.dialect} ${run.size} ${page.position} page: ${impl} differs from ours at row ${at}: ${got[at]} vs ${reference[at]}`,
      );
    }
  }
}

/** Time budget per (impl, page) after the minimum of 3 repetitions, so slow baselines do not dominate the run. */
const SLOW_BUDGET_MS = 20_000;
const FAST_BUDGET_MS = 1_000;

/** Queries and times of one call: queries counted once, then its median over repetitions. */
async function timeCall(bench: BenchDatabase, call: () => Promise<unknown>, repeat: number): Promise<{ queries: number; times: number[] }> {
  bench.counter.count = 0;
  await call();
  const queries = bench.counter.count;
  // Time: at least `repeat` repetitions (3 when slow: past SLOW_BUDGET_MS), more for fast pages
  // until FAST_BUDGET_MS is spent (at most 40 × repeat) so millisecond medians are stable.
  const times: number[] = [];
  let spent = 0;
  for (let i = 0; i < 40 * repeat; i++) {
    const t0 = performance.now();
    await call();
    const ms = performance.now() - t0;
    times.push(ms);
    spent += ms;
    if (i + 1 >= repeat && spent >= FAST_BUDGET_MS) break;
    if (i >= 2 && spent > SLOW_BUDGET_MS) break;
  }
  return { queries, times };
}

async function measure(bench: BenchDatabase, run: RunUnderTest, impl: Impl, page: PageUnderTest, repeat: number): Promise<Measurement> {
  const db = bench.store.db;
  const { queries, times } = await timeCall(bench, () => runImpl(db, impl, run, page), repeat);
  // Peak live heap: full GC at every stage where results are live, measured against the heap
  // after a full GC before the call. The heap moves by some KiB on its own, so fast pages take
  // the median of 3 such calls.
  const peaks: number[] = [];
  const memoryRuns = median(times) < 1_000 ? 3 : 1;
  for (let i = 0; i < memoryRuns; i++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    const probe: Probe = () => {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    };
    const tasks = await runImpl(db, impl, run, page, probe);
    if (tasks.length === 0) throw new Error('empty page');
    peaks.push(peak);
  }
  const peak = median(peaks);
  return {
    dialect: bench.dialect,
    size: run.size,
    tasks: run.tasks,
    impl,
    page: page.position,
    offset: page.offset,
    queries,
    medianMs: round(median(times), 3),
    minMs: round(Math.min(...times), 3),
    reps: times.length,
    peakHeapKiB: Math.round(peak / 1024),
  };
}

async function explainOurs(
  bench: BenchDatabase,
  run: RunUnderTest,
  page: PageUnderTest,
): Promise<{ verdict: PlanVerdict; withoutSeqScan: PlanVerdict | undefined; result: ExplainResult }> {
  bench.counter.last = undefined;
  await listTasksPage(bench.store.db, run.invocationId, page.cursor, PAGE_SIZE + 1);
  const captured = bench.counter.last;
  if (captured === undefined) throw new Error('page query not captured');
  const verdict = await explainQuery(bench.store.db, bench.dialect, captured);
  // PostgreSQL may prefer a Seq Scan on a small table (here the step tables hold only the
  // benchmark's few runs); the plan with seq scans disabled shows what the indexes support.
  let withoutSeqScan: PlanVerdict | undefined;
  if (bench.dialect === 'postgres' && !verdict.indexOnly) {
    withoutSeqScan = await bench.store.db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      return explainQuery(trx, bench.dialect, captured);
    });
  }
  return {
    verdict,
    withoutSeqScan,
    result: {
      dialect: bench.dialect,
      size: run.size,
      page: page.position,
      indexOnly: verdict.indexOnly,
      fullScans: verdict.fullScans,
      unboundedSorts: verdict.unboundedSorts,
      plan: verdict.text,
      ...(withoutSeqScan === undefined
        ? {}
        : { withSeqScanOff: { indexOnly: withoutSeqScan.indexOnly, fullScans: withoutSeqScan.fullScans, unboundedSorts: withoutSeqScan.unboundedSorts, plan: withoutSeqScan.text } }),
    },
  };
}

/**
 * Runs `call` once more and EXPLAINs every query it issued: 'index-only' with the planner's
 * defaults; on PostgreSQL 'index-only*' when that holds only with enable_seqscan and
 * enable_bitmapscan off, as in the store tests (the planner reads a small table such as
 * workflow_step whole, or bitmap-scans and sorts the few dozen step-level rows of a state
 * instead of walking their index); else 'SCAN'.
 */
async function planOf(bench: BenchDatabase, call: () => Promise<unknown>): Promise<StateRow['plan']> {
  const issued: CapturedQuery[] = [];
  bench.counter.record = (query) => issued.push(query);
  try {
    await call();
  } finally {
    bench.counter.record = undefined;
  }
  let plan: StateRow['plan'] = 'index-only';
  for (const query of issued) {
    if ((await explainQuery(bench.store.db, bench.dialect, query)).indexOnly) continue;
    const withoutSeqScan =
      bench.dialect === 'postgres'
        ? await bench.store.db.transaction().execute(async (trx) => {
            await sql`set local enable_seqscan = off`.execute(trx);
            await sql`set local enable_bitmapscan = off`.execute(trx);
            return explainQuery(trx, bench.dialect, query);
          })
        : undefined;
    if (withoutSeqScan?.indexOnly !== true) {
      console.log(`[${bench.dialect}] not index-only:\n${(withoutSeqScan ?? (await explainQuery(bench.store.db, bench.dialect, query))).text}`);
      return 'SCAN';
    }
    plan = 'index-only*';
  }
  return plan;
}

function describeVerdict(verdict: PlanVerdict): string {
  return `${verdict.indexOnly ? 'index-only: no table scan, sorting only over LIMITed branches' : 'NOT index-only'}${verdict.fullScans.length > 0 ? `; full scans: ${verdict.fullScans.join(', ')}` : ''}${verdict.unboundedSorts.length > 0 ? `; unbounded sorts: ${verdict.unboundedSorts.join(', ')}` : ''}`;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------------------------------------

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function printTable(rows: readonly Measurement[]): void {
  const header = `${pad('dialect', 9)}${pad('size', 6)}${pad('tasks', 10, true)}  ${pad('implementation', 16)}${pad('page', 7)}${pad('queries', 8, true)}${pad('median ms', 11, true)}${pad('reps', 6, true)}${pad('peak heap KiB', 15, true)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  let previous = '';
  for (const m of rows) {
    const group = `${m.dialect}/${m.size}/${m.impl}`;
    if (previous !== '' && previous.split('/').slice(0, 2).join('/') !== `${m.dialect}/${m.size}`) console.log('');
    previous = group;
    console.log(
      `${pad(m.dialect, 9)}${pad(m.size, 6)}${pad(m.tasks.toLocaleString('en-US'), 10, true)}  ${pad(m.impl, 16)}${pad(m.page, 7)}${pad(String(m.queries), 8, true)}${pad(formatMs(m.medianMs), 11, true)}${pad(String(m.reps), 6, true)}${pad(m.peakHeapKiB.toLocaleString('en-US'), 15, true)}`,
    );
  }
}

function printStateTable(rows: readonly StateRow[]): void {
  const header = `${pad('dialect', 9)}${pad('size', 6)}${pad('tasks', 10, true)}  ${pad('query', 20)}${pad('page', 7)}${pad('matching', 10, true)}${pad('queries', 8, true)}${pad('median ms', 11, true)}${pad('reps', 6, true)}${pad('plan', 12, true)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    console.log(
      `${pad(r.dialect, 9)}${pad(r.size, 6)}${pad(r.tasks.toLocaleString('en-US'), 10, true)}  ${pad(r.query, 20)}${pad(r.page, 7)}${pad(r.matching.toLocaleString('en-US'), 10, true)}${pad(String(r.queries), 8, true)}${pad(formatMs(r.medianMs), 11, true)}${pad(String(r.reps), 6, true)}${pad(r.plan ?? '', 12, true)}`,
    );
  }
}

interface Ratios {
  oursLastOverFirst: { dialect: Dialect; size: SizeName; ratio: number }[];
  speedups: { dialect: Dialect; size: SizeName; baseline: Impl; page: Position; speedup: number }[];
  memory: { dialect: Dialect; impl: Impl; bySize: Partial<Record<SizeName, number>> }[];
}

function computeRatios(rows: readonly Measurement[], sizes: readonly SizeName[], dialects: readonly Dialect[]): Ratios {
  const find = (d: Dialect, s: SizeName, impl: Impl, p: Position): Measurement | undefined =>
    rows.find((m) => m.dialect === d && m.size === s && m.impl === impl && m.page === p);
  const ratios: Ratios = { oursLastOverFirst: [], speedups: [], memory: [] };
  const largest = sizes[sizes.length - 1];
  for (const d of dialects) {
    for (const s of sizes) {
      const first = find(d, s, 'ours', 'first');
      const last = find(d, s, 'ours', 'last');
      if (first !== undefined && last !== undefined) {
        ratios.oursLastOverFirst.push({ dialect: d, size: s, ratio: round(last.medianMs / first.medianMs, 2) });
      }
    }
    if (largest !== undefined) {
      for (const baseline of IMPLEMENTATIONS.filter((i) => i !== 'ours')) {
        for (const p of POSITIONS) {
          const ours = find(d, largest, 'ours', p);
          const other = find(d, largest, baseline, p);
          if (ours !== undefined && other !== undefined) {
            ratios.speedups.push({ dialect: d, size: largest, baseline, page: p, speedup: round(other.medianMs / ours.medianMs, 1) });
          }
        }
      }
    }
    for (const impl of IMPLEMENTATIONS) {
      const bySize: Partial<Record<SizeName, number>> = {};
      for (const s of sizes) {
        const peaks = POSITIONS.map((p) => find(d, s, impl, p)?.peakHeapKiB).filter((v): v is number => v !== undefined);
        if (peaks.length > 0) bySize[s] = Math.max(...peaks);
      }
      if (Object.keys(bySize).length > 0) ratios.memory.push({ dialect: d, impl, bySize });
    }
  }
  return ratios;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = performance.now();
  console.log(
    `task page benchmark: sizes ${options.sizes.join(',')}, dialects ${options.dialects.join(',')}, page_size ${PAGE_SIZE}, repeat ${options.repeat}`,
  );
  const measurements: Measurement[] = [];
  const seeds: SeedTiming[] = [];
  const explains: ExplainResult[] = [];
  const skipped: string[] = [];
  const dialectsRun: Dialect[] = [];
  const stateRows: StateRow[] = [];

  for (const dialect of options.dialects) {
    const bench = await openBenchDatabase(dialect);
    if (bench === undefined) {
      skipped.push(dialect);
      continue;
    }
    dialectsRun.push(dialect);
    try {
      const db = bench.store.db;
      const user = await insertUser(db, `bench-${dialect}`, false, new Date().toISOString());
      const runs: RunUnderTest[] = [];
      for (const size of options.rows.includes('pages') ? options.sizes : []) {
        const steps = seedShape(SHAPES[size]);
        const t0 = performance.now();
        const seeded = await seedRun(db, { userId: user.id, runsDir: path.join(bench.dataDir, 'runs'), steps, logs: false });
        const seconds = round((performance.now() - t0) / 1000, 1);
        if (seeded.tasks !== countSeedTasks(steps)) throw new Error('seeded task count mismatch');
        seeds.push({ dialect, size, tasks: seeded.tasks, seconds });
        console.log(`[${dialect}] seeded ${size}: ${seeded.tasks.toLocaleString('en-US')} tasks in ${seconds} s`);
        runs.push({ size, invocationId: seeded.invocationId, tasks: seeded.tasks });
      }
      if (dialect === 'postgres') {
        const t0 = performance.now();
        await sql`analyze`.execute(db);
        console.log(`[${dialect}] analyze: ${round((performance.now() - t0) / 1000, 1)} s`);
      }
      if (options.rows.includes('states')) {
        for (const size of options.sizes) {
          const t0 = performance.now();
          const seeded = await seedRun(db, {
            userId: user.id,
            runsDir: path.join(bench.dataDir, 'runs'),
            steps: seedShape(SHAPES[size]),
            logs: false,
            jobState: benchJobState,
            jobSeconds: benchJobSeconds,
          });
          console.log(`[${dialect}] seeded ${size} for the state rows: ${seeded.tasks.toLocaleString('en-US')} tasks in ${round((performance.now() - t0) / 1000, 1)} s`);
          if (dialect === 'postgres') await sql`analyze`.execute(db);
          const largest = size === options.sizes[options.sizes.length - 1];
          const rows = await measureStateRows(db, { dialect, size, tasks: seeded.tasks, run: seeded.invocationId }, async (call) => {
            const { queries, times } = await timeCall(bench, call, options.repeat);
            const timing = { queries, medianMs: round(median(times), 3), reps: times.length };
            return largest ? { ...timing, plan: await planOf(bench, call) } : timing;
          });
          for (const r of rows) console.log(`[${dialect}] ${size} ${r.query} ${r.page}: ${formatMs(r.medianMs)} ms median (${r.reps} reps), ${r.queries} queries, ${r.matching} matching`);
          stateRows.push(...rows);
        }
      }
      for (const run of runs) {
        const pages = await pagesOf(db, run);
        for (const page of pages) await verify(bench, run, page);
        console.log(`[${dialect}] ${run.size}: all implementations return the same first/middle/last pages`);
        for (const impl of IMPLEMENTATIONS) {
          for (const page of pages) {
            const m = await measure(bench, run, impl, page, options.repeat);
            measurements.push(m);
            console.log(
              `[${dialect}] ${run.size} ${impl} ${page.position}: ${formatMs(m.medianMs)} ms median (${m.reps} reps), ${m.queries} queries, peak heap ${m.peakHeapKiB} KiB`,
            );
          }
        }
        if (run === runs[runs.length - 1]) {
          for (const page of pages.filter((p) => p.position === 'last')) {
            const { verdict, withoutSeqScan, result } = await explainOurs(bench, run, page);
            explains.push(result);
            console.log(`\n[${dialect}] EXPLAIN of our page query, ${run.size} run, ${page.position} page:`);
            console.log(verdict.text);
            console.log(`=> ${describeVerdict(verdict)}`);
            if (withoutSeqScan !== undefined) {
              console.log(`\n[${dialect}] the same with enable_seqscan = off:`);
              console.log(withoutSeqScan.text);
              console.log(`=> ${describeVerdict(withoutSeqScan)}`);
            }
            console.log('');
          }
        }
      }
    } finally {
      await bench.drop();
    }
  }

  console.log('');
  printTable(measurements);
  const ratios = computeRatios(measurements, options.sizes, dialectsRun);
  console.log('\nours, last page / first page:');
  for (const r of ratios.oursLastOverFirst) console.log(`  ${pad(r.dialect, 9)}${pad(r.size, 6)}${r.ratio.toFixed(2)}×`);
  console.log(`\nspeed-up of ours vs each baseline at ${options.sizes[options.sizes.length - 1] ?? '-'} (baseline median / ours median):`);
  for (const r of ratios.speedups) console.log(`  ${pad(r.dialect, 9)}${pad(r.baseline, 16)}${pad(r.page, 7)}${pad(r.speedup.toFixed(1), 9, true)}×`);
  console.log('\npeak live heap per page (KiB, max over page positions) by run size:');
  for (const r of ratios.memory) {
    console.log(`  ${pad(r.dialect, 9)}${pad(r.impl, 16)}${options.sizes.map((s) => `${s}=${(r.bySize[s] ?? 0).toLocaleString('en-US')}`).join('  ')}`);
  }

  // Goals.
  const goals: { goal: string; pass: boolean }[] = [];
  const lastOverFirst = ratios.oursLastOverFirst.map((r) => r.ratio);
  if (lastOverFirst.length > 0) goals.push({ goal: 'ours last page <= 1.5x ours first page', pass: Math.max(...lastOverFirst) <= 1.5 });
  const plainShapes = ratios.speedups;
  if (options.sizes.includes('1m') && plainShapes.length > 0) {
    goals.push({ goal: '>= 50x faster than the plain shapes at 1M tasks (every baseline, every page)', pass: Math.min(...plainShapes.map((r) => r.speedup)) >= 50 });
    const lastOnly = plainShapes.filter((r) => r.page === 'last');
    goals.push({ goal: '>= 50x faster than the plain shapes at 1M tasks (last page)', pass: Math.min(...lastOnly.map((r) => r.speedup)) >= 50 });
  }
  const oursMemory = ratios.memory.filter((r) => r.impl === 'ours');
  if (options.sizes.length > 1 && oursMemory.length > 0) {
    // Flat: the largest run's page needs no more than 1.5x (or 256 KiB more than) the smallest run's.
    const flat = oursMemory.every((r) => {
      const small = r.bySize[options.sizes[0]] ?? 0;
      const large = r.bySize[options.sizes[options.sizes.length - 1]] ?? 0;
      return large <= Math.max(small * 1.5, small + 256);
    });
    goals.push({ goal: 'ours: memory flat in run size', pass: flat });
  }
  if (explains.length > 0) {
    goals.push({ goal: 'ours: page query plan index-only at the largest size (planner default)', pass: explains.every((e) => e.indexOnly) });
    if (explains.some((e) => e.withSeqScanOff !== undefined)) {
      goals.push({
        goal: 'ours: page query plan index-only at the largest size (PG with enable_seqscan = off)',
        pass: explains.every((e) => e.withSeqScanOff?.indexOnly ?? e.indexOnly),
      });
    }
  }
  const states = stateRatios(stateRows);
  if (stateRows.length > 0) {
    console.log('\nissue 10 rows (store calls as the service makes them, page_size 100):');
    printStateTable(stateRows);
    console.log('\nlast page / first page:');
    for (const r of states.lastOverFirst) console.log(`  ${pad(r.dialect, 9)}${pad(r.size, 6)}${pad(r.query, 20)}${r.ratio.toFixed(2)}×`);
    if (states.largestOverSmallest.length > 0) {
      console.log(`\n${options.sizes[options.sizes.length - 1]} run / ${options.sizes[0]} run, same query and page:`);
      for (const r of states.largestOverSmallest) console.log(`  ${pad(r.dialect, 9)}${pad(r.query, 20)}${pad(r.page, 7)}${r.ratio.toFixed(2)}×`);
    }
    goals.push({ goal: 'issue 10 rows: last page <= 1.5x first page', pass: states.lastOverFirst.every((r) => r.ratio <= 1.5) });
    goals.push({
      goal: 'issue 10 rows: every query index-only at the largest size (* = PG with seq and bitmap scans off)',
      pass: stateRows.every((r) => r.plan !== 'SCAN'),
    });
    if (states.largestOverSmallest.length > 0) {
      goals.push({ goal: 'issue 10 rows: largest run <= 1.5x smallest run', pass: states.largestOverSmallest.every((r) => r.ratio <= 1.5) });
    }
  }
  console.log('\ngoals:');
  for (const g of goals) console.log(`  [${g.pass ? 'PASS' : 'FAIL'}] ${g.goal}`);
  if (skipped.length > 0) console.log(`\nskipped: ${skipped.join(', ')}`);
  const totalSeconds = round((performance.now() - startedAt) / 1000, 1);
  console.log(`\ntotal time: ${totalSeconds} s\n`);

  console.log(
    JSON.stringify({
      benchmark: 'tasks-page',
      pageSize: PAGE_SIZE,
      repeat: options.repeat,
      sizes: options.sizes,
      shapes: Object.fromEntries(options.sizes.map((s) => [s, SHAPES[s]])),
      dialects: dialectsRun,
      skipped,
      seeds,
      measurements,
      ratios,
      stateRows,
      stateRatios: states,
      explains,
      goals,
      totalSeconds,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
