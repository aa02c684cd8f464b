/**
 * SlurmExecutor against a real Slurm cluster (CI starts a one-node one with
 * scripts/slurm-test-cluster.sh). The squeue, sbatch and scancel it runs are wrappers that
 * record each call before running the real command, so tests can count calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { access, chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecutor } from '../../src/cli/create-executor.js';
import { loadConfig } from '../../src/config.js';
import type { CommandWrapper, JobResult, JobSpec } from '../../src/executors/executor.js';
import { JobWrapper } from '../../src/executors/job-wrapper.js';
import { BwrapWrapper } from '../../src/executors/sandbox/bwrap-wrapper.js';
import { SlurmCommands } from '../../src/executors/slurm/slurm-commands.js';
import { SlurmExecutor, type SlurmExecutorOptions } from '../../src/executors/slurm/slurm-executor.js';
import { connectProgram, greeter, machineAddress } from '../helpers/network-probe.js';
import { slurmClusterProblem, slurmJobActive } from '../helpers/slurm.js';

const PATH = process.env.PATH ?? '/usr/bin:/bin';
const POLL_MS = 300;

const skip = slurmClusterProblem();

interface Fixture {
  readonly dir: string;
  readonly options: SlurmExecutorOptions;
  /** A new executor on the fixture's options, shut down when the test ends. */
  executor(extra?: Partial<SlurmExecutorOptions>): SlurmExecutor;
  /** Number of calls of a command so far. */
  calls(command: 'sbatch' | 'squeue' | 'scancel'): Promise<number>;
  spec(argv: string[], extra?: Partial<JobSpec>): JobSpec;
}

async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'slurm-executor-'));
  const executors: SlurmExecutor[] = [];
  // Executors first: their shutdown (scancel, then squeue until the jobs are gone) needs the wrappers.
  t.after(async () => {
    await Promise.all(executors.map((executor) => executor.shutdown()));
    await rm(dir, { recursive: true, force: true });
  });
  const commands = { sbatch: '', squeue: '', scancel: '' };
  for (const name of ['sbatch', 'squeue', 'scancel'] as const) {
    const wrapper = join(dir, `${name}-wrapper`);
    await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${join(dir, `${name}.calls`)}'\nexec ${name} "$@"\n`);
    await chmod(wrapper, 0o755);
    commands[name] = wrapper;
  }
  let n = 0;
  const options = { stateDir: join(dir, 'state'), pollIntervalMs: POLL_MS, commands };
  return {
    dir,
    options,
    executor(extra = {}) {
      const executor = new SlurmExecutor({ ...options, ...extra });
      executors.push(executor);
      return executor;
    },
    async calls(command) {
      const text = await readFile(join(dir, `${command}.calls`), 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).length;
    },
    spec(argv, extra = {}) {
      n++;
      return { id: `${dir}/job-${n}`, argv, cwd: dir, env: { PATH }, stdoutPath: join(dir, `out-${n}`), stderrPath: join(dir, `err-${n}`), ...extra };
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A job that records it started, then blocks until the gate file exists. */
function gated(dir: string, name: string): string[] {
  return ['sh', '-c', `touch '${join(dir, `started-${name}`)}'; while [ ! -e '${join(dir, `gate-${name}`)}' ]; do sleep 0.1; done`];
}

/** Submits jobs together, then leaves them to the cluster as a stopping server does; resolves to their Slurm ids. */
async function leftRunning(executor: SlurmExecutor, ...specs: JobSpec[]): Promise<string[]> {
  const ids: string[] = Array(specs.length);
  const abort = new AbortController();
  const handles = specs.map((spec, i) => executor.submit(spec, abort.signal, undefined, (id) => (ids[i] = id)));
  await waitFor(() => Object.keys(ids).length === specs.length, 'the submissions');
  executor.detach();
  abort.abort();
  for (const handle of handles) assert.deepEqual((await handle.result).outcome, { kind: 'canceled' });
  await executor.shutdown();
  return ids;
}

/** What is left in the state directory besides the (empty) directory of arrays. */
async function leftovers(stateDir: string): Promise<string[]> {
  const arrays = await readdir(join(stateDir, 'arrays')).catch(() => []);
  return [...(await readdir(stateDir)).filter((name) => name !== 'arrays'), ...arrays.map((name) => `arrays/${name}`)];
}

test('exit codes, stdin, stdout and stderr files as the local executor gives them', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  await writeFile(join(f.dir, 'in.txt'), 'from stdin\n');
  const ok = f.spec(['sh', '-c', 'cat; echo out; echo err >&2; exit 0'], { stdinPath: join(f.dir, 'in.txt') });
  const failing = f.spec(['sh', '-c', 'echo failing >&2; exit 3']);
  const started: Date[] = [];
  const submitted: string[] = [];
  const [okResult, failResult] = await Promise.all([
    executor.submit(ok, new AbortController().signal, (at) => started.push(at), (id) => submitted.push(id)).result,
    executor.submit(failing, new AbortController().signal).result,
  ]);
  assert.deepEqual(okResult.outcome, { kind: 'exited', exitCode: 0 });
  assert.deepEqual(failResult.outcome, { kind: 'exited', exitCode: 3 });
  // The node has GNU time (the test cluster runs on this machine): CPU time and peak memory come back.
  if (existsSync('/usr/bin/time')) {
    for (const result of [okResult, failResult]) {
      assert.ok(result.usage !== undefined && result.usage.cpuSeconds >= 0 && result.usage.maxRssBytes > 0, JSON.stringify(result.usage));
    }
  }
  assert.equal(await readFile(ok.stdoutPath, 'utf8'), 'from stdin\nout\n');
  assert.equal(await readFile(ok.stderrPath, 'utf8'), 'err\n');
  assert.equal(await readFile(failing.stderrPath, 'utf8'), 'failing\n');
  assert.equal(started.length, 1);
  assert.ok(okResult.startedAt !== undefined && okResult.startedAt <= okResult.endedAt);
  // Submitted together with the same arguments: elements of one array.
  assert.match(submitted[0] ?? '', /^\d+_\d+$/);

  const env = f.spec(['env'], { env: { PATH, ONLY: 'this' } });
  assert.deepEqual((await executor.submit(env, new AbortController().signal).result).outcome, { kind: 'exited', exitCode: 0 });
  // Exactly the spec's environment: nothing of the server's, nor Slurm's, nor the shell's.
  assert.deepEqual((await readFile(env.stdoutPath, 'utf8')).trim().split('\n').sort(), [`ONLY=this`, `PATH=${PATH}`]);

  const same = f.spec(['sh', '-c', 'echo one; echo two >&2; echo three']);
  const merged = { ...same, stderrPath: same.stdoutPath };
  await executor.submit(merged, new AbortController().signal).result;
  assert.equal(await readFile(same.stdoutPath, 'utf8'), 'one\ntwo\nthree\n');
});

test('a job that cannot start fails to start with the reason, as the local executor says it', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const signal = new AbortController().signal;
  const cases: [JobSpec, RegExp][] = [
    [f.spec(['no-such-command-xyz']), /command not found on PATH: no-such-command-xyz/],
    [f.spec(['/no/such/tool']), /command not found: \/no\/such\/tool/],
    [f.spec(['true'], { cwd: join(f.dir, 'missing') }), /working directory .*missing is not a directory/],
    [f.spec(['cat'], { stdinPath: join(f.dir, 'missing-input') }), /cannot open stdin/],
    [f.spec(['true'], { stdoutPath: join(f.dir, 'no-dir', 'out') }), /cannot open stdout/],
  ];
  const results = await Promise.all(cases.map(([spec]) => executor.submit(spec, signal).result));
  for (const [i, result] of results.entries()) {
    assert.equal(result.outcome.kind, 'failed-to-start', JSON.stringify(result));
    assert.match(result.outcome.kind === 'failed-to-start' ? result.outcome.message : '', cases[i][1]);
    assert.equal(result.startedAt, undefined);
  }
  const bad = f.executor({ partition: 'no-such-partition' });
  const refused = await bad.submit(f.spec(['true']), signal).result;
  assert.equal(refused.outcome.kind, 'failed-to-start');
  assert.match(refused.outcome.kind === 'failed-to-start' ? refused.outcome.message : '', /sbatch: .*partition/i);
  await bad.shutdown();
});

test('hostile argv and environment reach the command as data, never as shell code', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const marker = join(f.dir, 'pwned');
  const hostile = [
    `'; touch ${marker}; '`,
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `"; touch ${marker}; "`,
    `line one\nline two; touch ${marker}`,
    `\\'\\"$HOME\${PATH}`,
    '-n',
    '',
    '*',
  ];
  const spec = f.spec(['printf', '[%s]\\n', ...hostile], { env: { PATH, EVIL: `$(touch ${marker})'"\n` } });
  const result = await executor.submit(spec, new AbortController().signal).result;
  assert.deepEqual(result.outcome, { kind: 'exited', exitCode: 0 });
  assert.equal(await readFile(spec.stdoutPath, 'utf8'), hostile.map((arg) => `[${arg}]\n`).join(''));
  const env = f.spec(['sh', '-c', 'printf %s "$EVIL"'], { env: { PATH, EVIL: `$(touch ${marker})'"\n` } });
  await executor.submit(env, new AbortController().signal).result;
  assert.equal(await readFile(env.stdoutPath, 'utf8'), `$(touch ${marker})'"\n`);
  // A name of a command is data too: an argv[0] with '=' is not taken for an assignment.
  const assignment = await executor.submit(f.spec([`A=$(touch ${marker})`]), new AbortController().signal).result;
  assert.equal(assignment.outcome.kind, 'failed-to-start');
  assert.equal(await exists(marker), false);
  const nul = await executor.submit(f.spec(['echo', 'a\0b']), new AbortController().signal).result;
  assert.equal(nul.outcome.kind, 'failed-to-start');
});

test('cancel scancels a running and a pending job; nothing is left in squeue', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const running = new AbortController();
  const ids: string[] = [];
  const handle = executor.submit(f.spec(gated(f.dir, 'a')), running.signal, undefined, (id) => ids.push(id));
  // A job that can never be scheduled (more CPUs than the node has) stays pending.
  const pending = new AbortController();
  const waiting = executor.submit(f.spec(['true'], { cores: 10_000 }), pending.signal, undefined, (id) => ids.push(id));
  await waitFor(() => exists(join(f.dir, 'started-a')), 'the job to start');
  await waitFor(() => ids.length === 2, 'both submissions');
  running.abort();
  pending.abort();
  const [result, pendingResult] = await Promise.all([handle.result, waiting.result]);
  assert.deepEqual(result.outcome, { kind: 'canceled' });
  assert.ok(result.startedAt !== undefined);
  assert.deepEqual(pendingResult.outcome, { kind: 'canceled' });
  assert.equal(pendingResult.startedAt, undefined);
  for (const id of ids) assert.equal(await slurmJobActive(id), false, `job ${id} still active`);
  assert.ok((await f.calls('scancel')) >= 1);
});

test("a wrapper's command runs in place of the job's; its stop, usage and cleanup come as locally; a wrapper missing on the node fails the job to start", { skip }, async (t) => {
  const f = await fixture(t);
  const events: string[] = [];
  const wrapper: CommandWrapper = {
    wrap: async (spec) => {
      const name = spec.id.slice(spec.id.lastIndexOf('/') + 1);
      const tool = spec.confinement?.image === 'missing' ? 'no-such-wrapper-xyz' : 'env';
      return {
        argv: [tool, 'WRAPPED=yes', ...spec.argv],
        env: { PATH },
        stop: async () => void events.push(`stop ${name}`),
        usage: async () => ({ cpuSeconds: 42, maxRssBytes: 4242 }),
        cleanup: async () => void events.push(`cleanup ${name}`),
      };
    },
  };
  const executor = f.executor({ wrapper });
  const image = (name: string) => ({ confinement: { mounts: [], network: false, image: name } });
  const plain = f.spec(['sh', '-c', 'echo $WRAPPED']);
  const contained = f.spec(['sh', '-c', 'echo $WRAPPED'], image('fake'));
  const [plainResult, containedResult] = await Promise.all([plain, contained].map((spec) => executor.submit(spec, new AbortController().signal).result));
  assert.deepEqual([plainResult.outcome, containedResult.outcome], [{ kind: 'exited', exitCode: 0 }, { kind: 'exited', exitCode: 0 }]);
  assert.equal(await readFile(plain.stdoutPath, 'utf8'), 'yes\n');
  assert.equal(await readFile(contained.stdoutPath, 'utf8'), 'yes\n');
  // Not in a container, GNU time measures the job inside the wrapper; in one, the wrapper says.
  if (existsSync('/usr/bin/time')) assert.notEqual(plainResult.usage?.cpuSeconds, 42, JSON.stringify(plainResult.usage));
  assert.deepEqual(containedResult.usage, { cpuSeconds: 42, maxRssBytes: 4242 });
  assert.deepEqual(events.sort(), ['cleanup job-1', 'cleanup job-2']);

  const abort = new AbortController();
  const gatedSpec = f.spec(gated(f.dir, 'w'));
  const handle = executor.submit(gatedSpec, abort.signal);
  await waitFor(() => exists(join(f.dir, 'started-w')), 'the wrapped job to start');
  abort.abort();
  assert.deepEqual((await handle.result).outcome, { kind: 'canceled' });
  assert.deepEqual(events.filter((e) => e.endsWith('job-3')), ['stop job-3', 'cleanup job-3']);

  const missing = await executor.submit(f.spec(['true'], image('missing')), new AbortController().signal).result;
  assert.equal(missing.outcome.kind, 'failed-to-start');
  assert.match(missing.outcome.kind === 'failed-to-start' ? missing.outcome.message : '', /^cannot start true: no-such-wrapper-xyz is not installed on Slurm node \S+ \(command not found on PATH: no-such-wrapper-xyz\)$/);
  assert.deepEqual(events.filter((e) => e.endsWith('job-4')), ['cleanup job-4']);
});

test('at most maxJobs are in Slurm at once; the others wait in the executor', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor({ maxJobs: 1 });
  const submitted: string[] = [];
  const results = ['m1', 'm2', 'm3'].map((name) => executor.submit(f.spec(gated(f.dir, name)), new AbortController().signal, undefined, (id) => submitted.push(id)).result);
  await waitFor(() => exists(join(f.dir, 'started-m1')), 'the first job to start');
  // Several polls pass with the first job running: the others are not handed to Slurm.
  const polls = await f.calls('squeue');
  await waitFor(async () => (await f.calls('squeue')) >= polls + 3, 'three more polls');
  assert.equal(submitted.length, 1);
  for (const name of ['m1', 'm2', 'm3']) await writeFile(join(f.dir, `gate-${name}`), '');
  assert.deepEqual((await Promise.all(results)).map((r) => r.outcome), Array(3).fill({ kind: 'exited', exitCode: 0 }));
  assert.equal(await f.calls('sbatch'), 3);
});

test('a time limit scancels the job and reports timed-out', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const ids: string[] = [];
  const result = await executor.submit(f.spec(['sleep', '120'], { timeLimitSeconds: 2 }), new AbortController().signal, undefined, (id) => ids.push(id)).result;
  assert.deepEqual(result.outcome, { kind: 'timed-out' });
  assert.ok(result.startedAt !== undefined);
  assert.equal(await slurmJobActive(ids[0]), false);
});

test('state is polled in batches: one squeue per interval whatever the number of jobs', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const jobs = 12;
  const begin = Date.now();
  const results = await Promise.all(
    Array.from({ length: jobs }, (_, i) => executor.submit(f.spec(['sh', '-c', `sleep 1; exit ${i}`], { cores: 0.1 }), new AbortController().signal).result),
  );
  const elapsed = Date.now() - begin;
  assert.deepEqual(results.map((r) => r.outcome), Array.from({ length: jobs }, (_, i) => ({ kind: 'exited', exitCode: i })));
  const polls = await f.calls('squeue');
  // A rate bound, not a speed goal: one call per job and poll would be 12 times as many.
  assert.ok(polls <= Math.ceil(elapsed / POLL_MS) + 1, `${polls} squeue calls in ${elapsed} ms`);
  assert.equal(await f.calls('sbatch'), 1, 'one job array');
});

test('after a restart a new executor attaches to a running job instead of submitting it again', { skip }, async (t) => {
  const f = await fixture(t);
  const [running] = await leftRunning(f.executor(), f.spec(gated(f.dir, 'r')));
  assert.match(running, /^\d+$/, 'a plain job');
  await waitFor(() => exists(join(f.dir, 'started-r')), 'the job to start');
  assert.equal(await slurmJobActive(running), true, 'the job goes on without a server');

  const second = f.executor();
  const started: Date[] = [];
  const attached = await second.attach(running, new AbortController().signal, (at) => started.push(at));
  assert.ok(attached !== undefined);
  await writeFile(join(f.dir, 'gate-r'), '');
  const result = await attached.result;
  assert.deepEqual(result.outcome, { kind: 'exited', exitCode: 0 });
  assert.equal(started.length, 1);
  assert.equal(await f.calls('sbatch'), 1, 'submitted once');

  // A job that ended while no server ran: its result is on record.
  const [ended] = await leftRunning(f.executor(), f.spec(gated(f.dir, 'd')));
  await writeFile(join(f.dir, 'gate-d'), '');
  await waitFor(async () => !(await slurmJobActive(ended)), 'the job to end');
  const late = await second.attach(ended, new AbortController().signal);
  assert.deepEqual((await late?.result)?.outcome, { kind: 'exited', exitCode: 0 });
  // A job nothing is known of: the caller submits again.
  assert.equal(await second.attach('999999999', new AbortController().signal), undefined);
});

test('cancelExternal stops jobs left by an earlier server; shutdown cancels running jobs', { skip }, async (t) => {
  const f = await fixture(t);
  const [left] = await leftRunning(f.executor(), f.spec(gated(f.dir, 'x')));
  const second = f.executor();
  await second.cancelExternal([left]);
  await waitFor(async () => !(await slurmJobActive(left)), 'the job to be canceled');

  const running: string[] = [];
  const handles: Promise<JobResult>[] = [];
  for (const name of ['y', 'z']) handles.push(second.submit(f.spec(gated(f.dir, name)), new AbortController().signal, undefined, (id) => running.push(id)).result);
  await waitFor(() => running.length === 2, 'the submissions');
  await second.shutdown();
  assert.deepEqual((await Promise.all(handles)).map((r) => r.outcome.kind), ['canceled', 'canceled']);
  for (const id of running) assert.equal(await slurmJobActive(id), false);
});

test('jobs waiting together with the same arguments go as one job array per kind: each element has its own exit code, stdout, stderr and start', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const small = Array.from({ length: 6 }, (_, i) => f.spec(['sh', '-c', `echo out-${i}; echo err-${i} >&2; exit ${i}`], { cores: 0.1 }));
  // Other resources, other sbatch arguments: an array of their own.
  const large = Array.from({ length: 2 }, (_, i) => f.spec(['sh', '-c', `echo big-${i}; exit ${10 + i}`], { ramMiB: 64 }));
  const specs = [...small, ...large];
  const ids: string[] = [];
  const starts: number[] = specs.map(() => 0);
  const results = await Promise.all(
    specs.map((spec, i) => executor.submit(spec, new AbortController().signal, () => starts[i]++, (id) => (ids[i] = id)).result),
  );
  assert.deepEqual(results.map((r) => r.outcome), [0, 1, 2, 3, 4, 5, 10, 11].map((exitCode) => ({ kind: 'exited', exitCode })));
  assert.equal(await f.calls('sbatch'), 2, 'one sbatch per array');
  const [smallArray, largeArray] = [ids[0], ids[6]].map((id) => id.split('_')[0]);
  assert.notEqual(smallArray, largeArray);
  assert.deepEqual(ids, [...small.map((_, i) => `${smallArray}_${i}`), ...large.map((_, i) => `${largeArray}_${i}`)]);
  for (const [i, spec] of small.entries()) {
    assert.equal(await readFile(spec.stdoutPath, 'utf8'), `out-${i}\n`);
    assert.equal(await readFile(spec.stderrPath, 'utf8'), `err-${i}\n`);
  }
  assert.equal(await readFile(large[1].stdoutPath, 'utf8'), 'big-1\n');
  assert.deepEqual(starts, specs.map(() => 1));
  for (const result of results) assert.ok(result.startedAt !== undefined && result.startedAt <= result.endedAt);
  // Status files, logs, element scripts and the arrays' directories went with the results.
  assert.deepEqual(await leftovers(f.options.stateDir), []);
});

test('cancel of one array element scancels it alone; its siblings run to success', { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const names = ['c0', 'c1', 'c2'];
  const aborts = names.map(() => new AbortController());
  const ids: string[] = [];
  const handles = names.map((name, i) => executor.submit(f.spec(gated(f.dir, name), { cores: 0.1 }), aborts[i].signal, undefined, (id) => (ids[i] = id)));
  await waitFor(() => ids.length === 3, 'the submissions');
  // Each element's script is a file of its own, readable by the server's user alone.
  const arrays = join(f.options.stateDir, 'arrays');
  const link = join(arrays, ids[0].split('_')[0]);
  for (let i = 0; i < 3; i++) assert.equal((await stat(join(link, `${i}.sh`))).mode & 0o777, 0o600);
  // The node has 2 CPUs: two elements run, the third waits.
  let running: number[] = [];
  await waitFor(async () => {
    running = (await Promise.all(names.map((name) => exists(join(f.dir, `started-${name}`))))).flatMap((started, i) => (started ? [i] : []));
    return running.length >= 2;
  }, 'two elements to start');
  const victim = running[1];
  aborts[victim].abort();
  const canceled = await handles[victim].result;
  assert.deepEqual(canceled.outcome, { kind: 'canceled' });
  assert.ok(canceled.startedAt !== undefined);
  assert.equal(await slurmJobActive(ids[victim]), false);
  const scancelled = (await readFile(join(f.dir, 'scancel.calls'), 'utf8')).split(/\s+/).filter(Boolean);
  assert.deepEqual(scancelled, [ids[victim]], 'the element alone, never the whole array');
  for (const name of names) await writeFile(join(f.dir, `gate-${name}`), '');
  const others = await Promise.all(handles.filter((_, i) => i !== victim).map((handle) => handle.result));
  assert.deepEqual(others.map((r) => r.outcome), [{ kind: 'exited', exitCode: 0 }, { kind: 'exited', exitCode: 0 }]);
  assert.deepEqual(await leftovers(f.options.stateDir), []);
});

test("a time limit scancels one array element; its sibling runs to its end", { skip }, async (t) => {
  const f = await fixture(t);
  const executor = f.executor();
  const ids: string[] = [];
  // 2 s and 30 s both ask Slurm for --time=2 (minutes): the same arguments, one array.
  const [slow, quick] = await Promise.all([
    executor.submit(f.spec(['sleep', '120'], { timeLimitSeconds: 2 }), new AbortController().signal, undefined, (id) => (ids[0] = id)).result,
    executor.submit(f.spec(['sh', '-c', 'sleep 3'], { timeLimitSeconds: 30 }), new AbortController().signal, undefined, (id) => (ids[1] = id)).result,
  ]);
  assert.deepEqual(slow.outcome, { kind: 'timed-out' });
  assert.ok(slow.startedAt !== undefined);
  assert.deepEqual(quick.outcome, { kind: 'exited', exitCode: 0 });
  assert.equal(await f.calls('sbatch'), 1);
  assert.equal(ids[0].split('_')[0], ids[1].split('_')[0]);
  assert.equal(await slurmJobActive(ids[0]), false);
});

test('after a restart a new executor attaches to array elements, running or ended meanwhile, and cleans their array up', { skip }, async (t) => {
  const f = await fixture(t);
  const names = ['e0', 'e1', 'e2'];
  const ids = await leftRunning(f.executor(), ...names.map((name) => f.spec(gated(f.dir, name), { cores: 0.1 })));
  assert.deepEqual(ids.map((id) => id.replace(/^\d+_/, '')), ['0', '1', '2']);
  // One element ends while no server runs.
  await writeFile(join(f.dir, 'gate-e1'), '');
  await waitFor(async () => !(await slurmJobActive(ids[1])), 'the element to end');
  assert.equal(await slurmJobActive(ids[0]), true, 'its siblings go on without a server');

  const second = f.executor();
  const started: string[] = [];
  const attached = await Promise.all(ids.map((id) => second.attach(id, new AbortController().signal, () => started.push(id))));
  assert.ok(attached.every((handle) => handle !== undefined));
  for (const name of names) await writeFile(join(f.dir, `gate-${name}`), '');
  const results = await Promise.all(attached.map((handle) => handle?.result));
  assert.deepEqual(results.map((r) => r?.outcome), names.map(() => ({ kind: 'exited', exitCode: 0 })));
  assert.deepEqual(started.sort(), [...ids].sort());
  assert.equal(await f.calls('sbatch'), 1, 'submitted once');
  assert.deepEqual(await leftovers(f.options.stateDir), []);
  // An element nothing is known of: the caller submits again.
  assert.equal(await second.attach(`${ids[0].split('_')[0]}_7`, new AbortController().signal), undefined);
});

test("arrays keep within the cluster's MaxArraySize, which check() reads at start", { skip }, async (t) => {
  const f = await fixture(t);
  // The real scontrol, telling a MaxArraySize of 2.
  const scontrol = join(f.dir, 'scontrol-small');
  await writeFile(scontrol, `#!/bin/sh\nscontrol "$@" | sed 's/^MaxArraySize .*/MaxArraySize            = 2/'\n`, { mode: 0o755 });
  const commands = f.options.commands;
  assert.ok(commands !== undefined);
  const executor = f.executor({ commands: { ...commands, scontrol } });
  await executor.check();
  const before = await f.calls('sbatch');
  const ids: string[] = [];
  const results = await Promise.all(
    Array.from({ length: 5 }, (_, i) => executor.submit(f.spec(['true'], { cores: 0.1 }), new AbortController().signal, undefined, (id) => (ids[i] = id)).result),
  );
  assert.deepEqual(results.map((r) => r.outcome), Array(5).fill({ kind: 'exited', exitCode: 0 }));
  assert.equal((await f.calls('sbatch')) - before, 3, 'arrays of 2, 2 and a plain job');
  assert.deepEqual(ids.map((id) => id.replace(/^\d+/, '')), ['_0', '_1', '_0', '_1', '']);
});

test("an array sbatch refuses for the cluster's MaxArraySize fails its jobs saying so", { skip }, async (t) => {
  const clusterMax = await new SlurmCommands().maxArraySize();
  assert.ok(clusterMax !== undefined, 'scontrol show config tells MaxArraySize');
  if (clusterMax > 5000) return t.skip(`the cluster's MaxArraySize (${clusterMax}) is too large to exceed here`);
  const f = await fixture(t);
  // As if the limit had been lowered after check(): never called here.
  const size = clusterMax + 1;
  const executor = f.executor({ maxArraySize: size, maxJobs: size });
  const results = await Promise.all(Array.from({ length: size }, () => executor.submit(f.spec(['true'], { cores: 0.1 }), new AbortController().signal).result));
  assert.equal(await f.calls('sbatch'), 1);
  for (const result of results) {
    assert.equal(result.outcome.kind, 'failed-to-start');
    assert.match(
      result.outcome.kind === 'failed-to-start' ? result.outcome.message : '',
      new RegExp(`^cannot start true: sbatch: .*Invalid job array specification: an array of ${size} jobs is more than the cluster's MaxArraySize of ${clusterMax} allows \\(WES_SLURM_MAX_ARRAY_SIZE sets`),
    );
  }
  assert.deepEqual(await leftovers(f.options.stateDir), []);
});

test('WES_SLURM_MAX_ARRAY_SIZE reaches the executor createExecutor makes: 1 submits jobs waiting together as plain jobs', { skip }, async (t) => {
  const f = await fixture(t);
  const env = { WES_EXECUTOR: 'slurm', WES_DATA_DIR: join(f.dir, 'data'), WES_SLURM_POLL_MS: String(POLL_MS), WES_SLURM_MAX_ARRAY_SIZE: '1' };
  const { executor } = await createExecutor(loadConfig(env), { wrapper: new JobWrapper({}) });
  t.after(() => executor.shutdown());
  const ids: string[] = [];
  const results = await Promise.all(
    Array.from({ length: 3 }, (_, i) => executor.submit(f.spec(['true'], { cores: 0.1 }), new AbortController().signal, undefined, (id) => (ids[i] = id)).result),
  );
  assert.deepEqual(results.map((r) => r.outcome), Array(3).fill({ kind: 'exited', exitCode: 0 }));
  for (const id of ids) assert.match(id, /^\d+$/, 'a plain job, not an array element');
});

const address = machineAddress();

/** A job that tries the targets and names its network namespace, records it started, then blocks until the gate file exists. */
function networkProbe(dir: string, name: string, targets: readonly string[]): string[] {
  const script = `python3 -c "$1"; echo "netns $(readlink /proc/self/ns/net)"; touch '${join(dir, `started-${name}`)}'; while [ ! -e '${join(dir, `gate-${name}`)}' ]; do sleep 0.1; done`;
  return ['sh', '-c', script, 'probe', connectProgram(targets)];
}

function cmdline(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
  } catch {
    return [];
  }
}

/** Live slirp4netns processes by the network namespace each serves ("net:[…]" → its pid). */
function slirpNetworks(): Map<string, string> {
  const networks = new Map<string, string>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const args = cmdline(pid);
    if (args[0] !== 'slirp4netns') continue;
    // `slirp4netns … <pid of the sandbox> tap0`
    try {
      networks.set(readlinkSync(`/proc/${args[args.length - 2]}/ns/net`), pid);
    } catch {
      // Its sandbox has just ended.
    }
  }
  return networks;
}

test("NetworkAccess jobs submitted together go as one array, each element in a network of its own made on the node: the machine's address, not its loopback", { skip: skip ?? (address === undefined && 'no non-loopback IPv4 address here') }, async (t) => {
  assert.ok(address !== undefined);
  const f = await fixture(t);
  const sandbox = await BwrapWrapper.create({ hiddenPaths: [f.options.stateDir], stateDir: join(f.dir, 'sandbox'), maxProcesses: 64 });
  const executor = f.executor({ wrapper: sandbox.forBatchJobs() });
  const greeting = `hello-${process.pid}`;
  const port = await greeter(t, greeting);
  const outside = `${address}:${port}`;
  // The server listens on 127.0.0.1 too; slirp's gateway 10.0.2.2 would be the host's loopback.
  const loopback = [`127.0.0.1:${port}`, `10.0.2.2:${port}`];
  const names = ['n0', 'n1', 'n2'];
  const confinement = { mounts: [{ hostPath: f.dir, jobPath: f.dir, writable: true }], network: true };
  const specs = names.map((name) => f.spec(networkProbe(f.dir, name, [outside, ...loopback]), { env: { PATH: '/usr/bin:/bin' }, confinement, cores: 0.1 }));
  const ids: string[] = [];
  const results = specs.map((spec, i) => executor.submit(spec, new AbortController().signal, undefined, (id) => (ids[i] = id)).result);

  // Each element, while it runs, is in a namespace of its own, neither the host's nor a
  // running sibling's, which a slirp4netns of its own serves.
  const host = readlinkSync('/proc/self/ns/net');
  const slirps = new Map<number, string>();
  /** Once `count` elements not yet checked run, checks them and lets them end. */
  const checkRunning = async (count: number, what: string): Promise<void> => {
    let running: number[] = [];
    await waitFor(async () => {
      const started = await Promise.all(names.map((name) => exists(join(f.dir, `started-${name}`))));
      running = started.flatMap((yes, i) => (yes && !slirps.has(i) ? [i] : []));
      return running.length >= count;
    }, what);
    const networks = slirpNetworks();
    const namespaces = await Promise.all(running.map(async (i) => /^netns (.*)$/m.exec(await readFile(specs[i].stdoutPath, 'utf8'))?.[1]));
    assert.equal(new Set(namespaces).size, running.length, `elements running at once share a namespace: ${namespaces.join(' ')}`);
    for (const [k, i] of running.entries()) {
      const namespace = namespaces[k];
      assert.ok(namespace !== undefined && namespace !== host, `element ${i} is in the host's network`);
      const slirp = networks.get(namespace);
      assert.ok(slirp !== undefined, `no slirp4netns serves element ${i}'s ${namespace}`);
      assert.ok(![...slirps.values()].includes(slirp), `element ${i} shares a slirp4netns`);
      slirps.set(i, slirp);
    }
    for (const i of running) await writeFile(join(f.dir, `gate-${names[i]}`), '');
  };
  // The node has 2 CPUs: two elements run at once, the third after them.
  await checkRunning(2, 'two elements to run at once');
  await checkRunning(1, 'the third element to run');
  assert.deepEqual((await Promise.all(results)).map((r) => r.outcome), Array(names.length).fill({ kind: 'exited', exitCode: 0 }));
  assert.equal(await f.calls('sbatch'), 1, 'one job array');
  const arrayId = ids[0].split('_')[0];
  assert.deepEqual(ids, names.map((_, i) => `${arrayId}_${i}`));
  for (const spec of specs) {
    const report = await readFile(spec.stdoutPath, 'utf8');
    assert.match(report, new RegExp(`^${outside} connected ${greeting}$`, 'm'), report);
    for (const target of loopback) assert.match(report, new RegExp(`^${target} blocked `, 'm'), report);
  }
  // Each job's status came once its batch job had stopped its slirp4netns.
  for (const pid of slirps.values()) assert.notEqual(cmdline(pid)[0], 'slirp4netns', `slirp4netns ${pid} outlived its job`);
  assert.deepEqual(await leftovers(f.options.stateDir), []);
});
