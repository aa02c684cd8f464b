/**
 * Several `wes serve` processes on one store (issue 8 §3), as real child processes.
 *
 * PostgreSQL: two servers share the runs; a run is driven by the server holding its lease, and
 * the other takes it over when that server dies (kill -9) or stops heartbeating (SIGSTOP), so
 * that finished jobs are reused and the unfinished ones run again — never beside their first
 * attempt — or, on Slurm, are attached to. A cancel reaches the driver through either server;
 * a second server that fails to start harms nothing. Jobs keep a journal in a host directory (WES_JOB_SANDBOX=none): each attempt writes
 * "start n", checks that no earlier attempt of job n still lives ("overlap n" otherwise) and
 * writes "end n" when done. SQLite: one server owns the data directory, a second one refuses
 * to start and harms nothing.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { createTestDatabase, DIALECT, type TestDatabase } from '../helpers/dialects.js';
import { startServer, type Server } from '../helpers/wes-process.js';
import { processesMentioning } from '../helpers/processes.js';
import { SLEEPING_TOOL } from './workflows.js';
import { slurmClusterProblem } from '../helpers/slurm.js';

const LEASE_SECONDS = 3;
const SERVER_ENV = { WES_JOB_SANDBOX: 'none', WES_LEASE_SECONDS: String(LEASE_SECONDS), WES_MAX_JOBS: '2' };
const needsPostgres = DIALECT === 'postgres' ? false : 'several servers share a store on PostgreSQL only';
const needsSqlite = DIALECT === 'sqlite' ? false : 'one server per data directory is the SQLite rule';

/**
 * Jobs 1 and 2, then (after both) jobs 3 and 4, which wait for the gate file. Job n journals
 * its attempts.
 */
const JOURNALED_WORKFLOW = `cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs:
  dir: string
outputs:
  quick: {type: "File[]", outputSource: quick/out}
  slow: {type: "File[]", outputSource: slow/out}
steps:
  quick:
    run: job.cwl
    scatter: n
    in: {n: {default: [1, 2]}, dir: dir}
    out: [out]
  slow:
    run: job.cwl
    scatter: n
    in: {n: {default: [3, 4]}, dir: dir, after: quick/out}
    out: [out]
`;
const JOURNALED_JOB = `cwlVersion: v1.2
class: CommandLineTool
requirements: {ShellCommandRequirement: {}}
inputs: {n: int, dir: string, after: "File[]?"}
arguments:
  - valueFrom: >-
      d=$(inputs.dir); n=$(inputs.n);
      for p in \`cat $d/pids-$n 2>/dev/null\`; do s=\`cut -d' ' -f3 /proc/$p/stat 2>/dev/null\`; [ -n "$s" ] && [ "$s" != Z ] && echo overlap $n >> $d/journal; done;
      echo $$ >> $d/pids-$n; echo start $n >> $d/journal;
      if [ $n -gt 2 ]; then while [ ! -e $d/gate ]; do sleep 0.1; done; fi;
      echo end $n >> $d/journal; echo $n
    shellQuote: false
outputs: {out: {type: stdout}}
stdout: out.txt
`;
const JOURNALED = { 'main.cwl': JOURNALED_WORKFLOW, 'job.cwl': JOURNALED_JOB };

async function until(check: () => Promise<boolean> | boolean, what: string, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Submits `main.cwl` of `files`. */
async function submit(server: Server, files: Readonly<Record<string, string>>, params: Record<string, unknown>): Promise<string> {
  const form = new FormData();
  form.append('workflow_type', 'CWL');
  form.append('workflow_type_version', 'v1.2');
  form.append('workflow_url', 'main.cwl');
  form.append('workflow_params', JSON.stringify(params));
  for (const [name, content] of Object.entries(files)) form.append('workflow_attachment', new Blob([content]), name);
  const response = await fetch(`${server.url}/ga4gh/wes/v1/runs`, { method: 'POST', body: form });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { run_id: string }).run_id;
}

async function state(server: Server, runId: string): Promise<string> {
  const response = await fetch(`${server.url}/ga4gh/wes/v1/runs/${runId}/status`);
  return ((await response.json()) as { state: string }).state;
}

/** The contents of the run's output files, quick then slow. */
async function outputs(server: Server, runId: string): Promise<string[]> {
  const log = (await (await fetch(`${server.url}/ga4gh/wes/v1/runs/${runId}`)).json()) as { outputs: Record<'quick' | 'slow', { location: string }[]> };
  const files = [...log.outputs.quick, ...log.outputs.slow];
  return Promise.all(files.map(async (file) => (await fetch(new URL(new URL(file.location).pathname, server.url))).text()));
}

function serverIdOf(server: Server): number {
  const match = /PostgreSQL, server (\d+)/.exec(server.output.join(''));
  assert.ok(match !== null, server.output.join(''));
  return Number(match[1]);
}

/** Which server the store says drives the run. */
async function driverOf(database: TestDatabase, runId: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: database.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_id: string | null }>('select server_id from workflow_invocation where uuid = $1', [runId]);
    return rows[0].server_id === null ? null : Number(rows[0].server_id);
  } finally {
    await client.end();
  }
}

async function exited(server: Server): Promise<void> {
  if (server.process.exitCode === null && server.process.signalCode === null) await new Promise((resolve) => server.process.once('exit', resolve));
}

/** `wes serve` on the test's store that is expected to exit: its exit code and everything it printed. */
async function serveUntilExit(database: TestDatabase, port: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...SERVER_ENV, WES_DATA_DIR: database.dataDir, DATABASE_URL: database.databaseUrl ?? '' };
  const server = spawn(process.execPath, [path.resolve('bin/wes.js'), 'serve', '--no-auth', '--port', port], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  server.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  server.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const code = await new Promise<number | null>((resolve) => server.once('exit', resolve));
  return { code, output: output.join('') };
}

function journal(dir: string): string[] {
  return fs.existsSync(path.join(dir, 'journal')) ? fs.readFileSync(path.join(dir, 'journal'), 'utf8').trim().split('\n') : [];
}

function count(lines: readonly string[], line: string): number {
  return lines.filter((l) => l === line).length;
}

/** Two servers on a fresh database, killed (and the database dropped) after the test. */
async function twoServers(t: TestContext, env: NodeJS.ProcessEnv = SERVER_ENV): Promise<{ database: TestDatabase; a: Server; startB: () => Promise<Server>; servers: Server[] }> {
  const database = await createTestDatabase();
  const servers: Server[] = [];
  t.after(async () => {
    for (const server of servers) {
      server.process.kill('SIGCONT');
      server.process.kill('SIGKILL');
    }
    await Promise.all(servers.map(exited));
    // Job processes of a killed server that the test did not see reaped.
    for (const pid of processesMentioning(database.dataDir)) process.kill(pid, 'SIGKILL');
    await database.drop();
  });
  const a = await startServer(database, env);
  servers.push(a);
  const startB = async () => {
    const b = await startServer(database, env);
    servers.push(b);
    return b;
  };
  return { database, a, startB, servers };
}

/** Submits the journaled scatter to `server` and waits until jobs 1 and 2 ended and 3 and 4 wait at the gate. */
async function runUntilGate(server: Server, dir: string): Promise<string> {
  fs.mkdirSync(dir);
  const runId = await submit(server, JOURNALED, { dir });
  await until(() => ['end 1', 'end 2', 'start 3', 'start 4'].every((line) => journal(dir).includes(line)), 'jobs 3 and 4 to wait at the gate');
  return runId;
}

/** A journal that shows every job ended once, none beside another attempt of itself, and only the `rerun` jobs started twice. */
function assertCleanJournal(dir: string, rerun: readonly number[]): void {
  const lines = journal(dir);
  assert.deepEqual(lines.filter((l) => l.startsWith('overlap')), [], `an attempt started beside a live one: ${lines.join(', ')}`);
  for (const n of [1, 2, 3, 4]) assert.equal(count(lines, `end ${n}`), 1, `job ${n} ended ${count(lines, `end ${n}`)} times: ${lines.join(', ')}`);
  for (const n of [1, 2, 3, 4]) assert.equal(count(lines, `start ${n}`), rerun.includes(n) ? 2 : 1, `job ${n}: ${lines.join(', ')}`);
}

test('kill -9 of the server driving a run: the other server takes it over and reruns only the unfinished jobs', { skip: needsPostgres }, async (t) => {
  const { database, a, startB } = await twoServers(t);
  const dir = path.join(database.dataDir, 'journal-dir');
  const runId = await runUntilGate(a, dir);
  const firstAttempts = processesMentioning(dir);
  // A second server starting beside a running one stops none of its jobs (they were killed with exit 143).
  const b = await startB();
  await delay(LEASE_SECONDS * 1000);
  assert.deepEqual(processesMentioning(dir), firstAttempts, 'the second server harmed the first one\'s jobs');
  assert.equal(await driverOf(database, runId), serverIdOf(a), 'the second server took a run whose driver lives');

  a.process.kill('SIGKILL');
  const killedAt = Date.now();
  await exited(a);
  await until(async () => (await driverOf(database, runId)) === serverIdOf(b), 'the other server to claim the run', LEASE_SECONDS * 1000);
  t.diagnostic(`taken over ${Date.now() - killedAt} ms after the kill (lease ${LEASE_SECONDS} s)`);
  await until(() => count(journal(dir), 'start 3') === 2 && count(journal(dir), 'start 4') === 2, 'jobs 3 and 4 to run again');
  assert.ok(firstAttempts.every((pid) => !processesMentioning(dir).includes(pid)), 'a job of the killed server runs on');

  fs.writeFileSync(path.join(dir, 'gate'), '');
  await until(async () => (await state(b, runId)) === 'COMPLETE', 'the run to complete');
  assertCleanJournal(dir, [3, 4]);
  assert.deepEqual(await outputs(b, runId), ['1\n', '2\n', '3\n', '4\n']);

  // The same workflow uninterrupted gives the same outputs.
  const calm = path.join(database.dataDir, 'calm');
  fs.mkdirSync(calm);
  fs.writeFileSync(path.join(calm, 'gate'), '');
  const uninterrupted = await submit(b, JOURNALED, { dir: calm });
  await until(async () => (await state(b, uninterrupted)) === 'COMPLETE', 'the uninterrupted run');
  assert.deepEqual(await outputs(b, uninterrupted), await outputs(b, runId));
});

test('on Slurm, the server taking a run over attaches to the jobs the killed server left in the cluster', { skip: needsPostgres || (slurmClusterProblem() ?? false) }, async (t) => {
  const { database, a, startB } = await twoServers(t, { ...SERVER_ENV, WES_EXECUTOR: 'slurm', WES_SLURM_POLL_MS: '250' });
  const b = await startB();
  const dir = path.join(database.dataDir, 'journal-dir');
  const runId = await runUntilGate(a, dir);
  a.process.kill('SIGKILL');
  await exited(a);
  await until(async () => (await driverOf(database, runId)) === serverIdOf(b), 'the other server to claim the run', LEASE_SECONDS * 1000);
  fs.writeFileSync(path.join(dir, 'gate'), '');
  await until(async () => (await state(b, runId)) === 'COMPLETE', 'the run to complete');
  // Jobs 3 and 4 went on in Slurm and were attached to: none ran twice.
  assertCleanJournal(dir, []);
  assert.deepEqual(await outputs(b, runId), ['1\n', '2\n', '3\n', '4\n']);
});

test('a server that stops heartbeating loses its runs after the lease expires and, woken up, records nothing', { skip: needsPostgres }, async (t) => {
  const { database, a, startB } = await twoServers(t);
  const b = await startB();
  const dir = path.join(database.dataDir, 'journal-dir');
  const runId = await runUntilGate(a, dir);
  assert.equal(await driverOf(database, runId), serverIdOf(a));
  const firstAttempts = processesMentioning(dir);

  assert.doesNotMatch(a.output.join(''), /lease lost/);
  a.process.kill('SIGSTOP');
  const stoppedAt = Date.now();
  await until(async () => (await driverOf(database, runId)) === serverIdOf(b), 'the other server to claim the run', 4 * LEASE_SECONDS * 1000);
  t.diagnostic(`taken over ${Date.now() - stoppedAt} ms after SIGSTOP (lease ${LEASE_SECONDS} s)`);
  // A live server's lease must have expired first: its row is only forgotten then.
  assert.ok(Date.now() - stoppedAt >= LEASE_SECONDS * 1000 * 0.5, 'the run was taken from a server whose lease still held');
  await until(() => count(journal(dir), 'start 3') === 2 && count(journal(dir), 'start 4') === 2, 'jobs 3 and 4 to run again');
  assert.ok(firstAttempts.every((pid) => !processesMentioning(dir).includes(pid)), 'a job of the frozen server runs on');

  a.process.kill('SIGCONT');
  await until(() => /lease lost/.test(a.output.join('')), 'the woken server to notice its lost lease');
  fs.writeFileSync(path.join(dir, 'gate'), '');
  await until(async () => (await state(b, runId)) === 'COMPLETE', 'the run to complete');
  assertCleanJournal(dir, [3, 4]);
  assert.deepEqual(await outputs(a, runId), ['1\n', '2\n', '3\n', '4\n']);
  assert.equal(await driverOf(database, runId), serverIdOf(b));
  const engineLog = () => fs.readFileSync(path.join(database.dataDir, 'runs', runId, 'engine.log'), 'utf8');
  await until(() => /lease lost: run left to the server that takes it over/.test(engineLog()), 'the woken server to drop its attempt');
  assert.equal((engineLog().match(/run complete/g) ?? []).length, 1, engineLog());
});

/** Runs the sleeping tool on server `a` and waits for its job. */
async function sleepOn(a: Server, marker: string): Promise<string> {
  const runId = await submit(a, { 'main.cwl': SLEEPING_TOOL }, { marker });
  await until(() => processesMentioning(marker).length >= 2, 'the job to start');
  return runId;
}

test('a cancel sent to one server stops the run another server drives, without waiting for a heartbeat', { skip: needsPostgres }, async (t) => {
  // Heartbeats 20 s apart: only the notice can be this quick.
  const { database, a, startB } = await twoServers(t, { ...SERVER_ENV, WES_LEASE_SECONDS: '60' });
  const b = await startB();
  const marker = `wes-multi-cancel-${path.basename(database.dataDir)}`;
  const runId = await sleepOn(a, marker);
  assert.equal(await driverOf(database, runId), serverIdOf(a));
  const canceledAt = Date.now();
  const response = await fetch(`${b.url}/ga4gh/wes/v1/runs/${runId}/cancel`, { method: 'POST' });
  assert.equal(response.status, 200);
  await until(async () => (await state(b, runId)) === 'CANCELED', 'the cancel', 10_000);
  t.diagnostic(`CANCELED ${Date.now() - canceledAt} ms after the cancel reached the other server`);
  assert.deepEqual(processesMentioning(marker), []);
  assert.equal(await driverOf(database, runId), serverIdOf(a), 'the run moved to another server');
});

test('a cancel whose notice was lost reaches the driving server at its next heartbeat', { skip: needsPostgres }, async (t) => {
  const { database, a } = await twoServers(t);
  const marker = `wes-multi-cancel-${path.basename(database.dataDir)}`;
  const runId = await sleepOn(a, marker);
  const client = new pg.Client({ connectionString: database.databaseUrl });
  await client.connect();
  // As a server whose NOTIFY went nowhere would leave it: CANCELING in the store, nothing else.
  await client.query("update workflow_invocation set state = 'CANCELING' where uuid = $1", [runId]);
  await client.end();
  await until(async () => (await state(a, runId)) === 'CANCELED', 'the cancel', 4 * LEASE_SECONDS * 1000);
  assert.deepEqual(processesMentioning(marker), []);
});

test('a second server that cannot listen (its port is taken) leaves the first one\'s jobs alone', { skip: needsPostgres }, async (t) => {
  const { database, a } = await twoServers(t);
  const dir = path.join(database.dataDir, 'journal-dir');
  const runId = await runUntilGate(a, dir);
  const running = processesMentioning(dir);
  const { code, output } = await serveUntilExit(database, new URL(a.url).port);
  assert.equal(code, 1, output);
  assert.match(output, /EADDRINUSE/);
  assert.deepEqual(processesMentioning(dir), running, 'the second server stopped the running jobs');
  fs.writeFileSync(path.join(dir, 'gate'), '');
  await until(async () => (await state(a, runId)) === 'COMPLETE', 'the run to complete');
  assertCleanJournal(dir, []);
});

test('a second server on the same SQLite data directory refuses to start, naming the first, and harms nothing', { skip: needsSqlite }, async (t) => {
  const database = await createTestDatabase();
  const first = await startServer(database, SERVER_ENV);
  t.after(async () => {
    first.process.kill('SIGKILL');
    await exited(first);
    for (const pid of processesMentioning(database.dataDir)) process.kill(pid, 'SIGKILL');
    await database.drop();
  });
  const dir = path.join(database.dataDir, 'journal-dir');
  const runId = await runUntilGate(first, dir);
  const running = processesMentioning(dir);

  const { code, output } = await serveUntilExit(database, '0');
  assert.equal(code, 1, output);
  assert.match(output, new RegExp(`another wes serve \\(pid ${first.process.pid} on [^,]+, started [^)]+\\) is using this data directory`));
  assert.deepEqual(processesMentioning(dir), running, 'the refused server stopped the running jobs');

  fs.writeFileSync(path.join(dir, 'gate'), '');
  await until(async () => (await state(first, runId)) === 'COMPLETE', 'the run to complete');
  assertCleanJournal(dir, []);
  assert.deepEqual(await outputs(first, runId), ['1\n', '2\n', '3\n', '4\n']);
});
