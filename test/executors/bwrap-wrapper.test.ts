/**
 * BwrapWrapper through a real LocalExecutor and real bubblewrap: what the wrapper itself
 * decides (the HTTP-level probes are in test/security/job-sandbox.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LocalExecutor } from '../../src/executors/local/local-executor.js';
import { BwrapWrapper } from '../../src/executors/sandbox/bwrap-wrapper.js';
import type { JobSpec } from '../../src/executors/executor.js';

async function setUp(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await realpath(await mkdtemp(path.join(tmpdir(), 'wes-bwrap-')));
  t.after(() => rm(root, { recursive: true, force: true }));
  const tools = path.join(root, 'tools');
  const dataDir = path.join(tools, 'data');
  const outdir = path.join(root, 'job', 'out');
  await mkdir(outdir, { recursive: true });
  await mkdir(dataDir, { recursive: true });
  await writeFile(path.join(tools, 'tool.sh'), 'echo from-the-tool-dir\n');
  await writeFile(path.join(dataDir, 'wes.sqlite'), 'SQLite format 3');
  const wrapper = await BwrapWrapper.create({ hiddenPaths: [dataDir], stateDir: path.join(root, 'sandbox'), maxProcesses: 64, readOnlyDirs: [tools] });
  const spec = (script: string, env: Record<string, string> = {}): JobSpec => ({
    id: 'job',
    argv: ['sh', '-c', script],
    cwd: outdir,
    env: { PATH: '/usr/bin:/bin', ...env },
    stdoutPath: path.join(root, 'job', 'stdout'),
    stderrPath: path.join(root, 'job', 'stderr'),
    confinement: { mounts: [{ hostPath: outdir, jobPath: outdir, writable: true }], network: false },
  });
  const run = async (job: JobSpec): Promise<{ code: number | undefined; stdout: string }> => {
    const executor = new LocalExecutor({ maxJobs: 1, wrapper });
    t.after(() => executor.shutdown());
    const { outcome } = await executor.submit(job, new AbortController().signal).result;
    return { code: outcome.kind === 'exited' ? outcome.exitCode : undefined, stdout: await readFile(job.stdoutPath, 'utf8') };
  };
  return { root, tools, dataDir, outdir, wrapper, spec, run };
}

test("the job's environment is set inside the sandbox, never on the privileged wrapper processes", async (t) => {
  const { wrapper, spec, run } = await setUp(t);
  const job = spec('echo "$SECRET_VAR"', { LD_PRELOAD: '/nonexistent/evil.so', SECRET_VAR: 'inside' });
  const wrapped = await wrapper.wrap(job);
  await wrapped.cleanup?.();
  assert.deepEqual(Object.keys(wrapped.env), ['PATH']);
  assert.equal((await run(spec('echo "$SECRET_VAR"', { SECRET_VAR: 'inside' }))).stdout, 'inside\n');
});

test('operator read-only dirs are visible read-only; a data directory inside one stays hidden', async (t) => {
  const { tools, dataDir, outdir, spec, run } = await setUp(t);
  const result = await run(
    spec(`sh ${tools}/tool.sh; touch ${tools}/x 2>/dev/null && echo WROTE; ls ${dataDir}; cat ${dataDir}/wes.sqlite 2>/dev/null; echo done > ${outdir}/ok`),
  );
  assert.equal(result.stdout, 'from-the-tool-dir\n');
  assert.equal(await readFile(path.join(outdir, 'ok'), 'utf8'), 'done\n');
});

test('a job with NetworkAccess runs in a network namespace of its own, inside the sandbox', async (t) => {
  const { spec, run } = await setUp(t);
  const job: JobSpec = { ...spec('cat /proc/net/dev | grep -c tap0; cat /etc/resolv.conf'), confinement: { ...spec('').confinement!, network: true } };
  const result = await run(job);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, '1\nnameserver 10.0.2.3\n');
});

test("on a batch node a NetworkAccess job's own command makes its network, and takes slirp4netns along when it ends", async (t) => {
  const { wrapper, spec } = await setUp(t);
  const job: JobSpec = { ...spec('grep -c tap0 /proc/net/dev; cat /etc/resolv.conf; exit 3'), confinement: { ...spec('').confinement!, network: true } };
  const wrapped = await wrapper.forBatchJobs().wrap(job);
  assert.deepEqual(wrapped.requires, ['bwrap', 'slirp4netns'], 'the batch script checks both on the node');
  // As the batch script starts it, plus a marker that slirp4netns inherits.
  const marker = `WES_TEST_MARKER=node-network-${process.pid}`;
  const [name, value] = marker.split('=');
  t.after(async () => {
    for (const pid of await slirpProcessesWith(marker)) process.kill(Number(pid), 'SIGKILL');
  });
  const started = spawnSync(wrapped.argv[0], wrapped.argv.slice(1), { env: { ...wrapped.env, [name]: value }, encoding: 'utf8' });
  assert.equal(started.status, 3, started.stderr);
  assert.equal(started.stdout, '1\nnameserver 10.0.2.3\n');
  assert.deepEqual(await slirpProcessesWith(marker), []);
});

test('on a batch node a NetworkAccess job whose slirp4netns fails exits 125 saying why, and leaves no held sandbox', async (t) => {
  const { root, wrapper, spec } = await setUp(t);
  const marker = `wes-held-sandbox-${process.pid}`;
  const job: JobSpec = { ...spec(`echo ${marker}`), confinement: { ...spec('').confinement!, network: true } };
  const wrapped = await wrapper.forBatchJobs().wrap(job);
  const stubs = path.join(root, 'stubs');
  await mkdir(stubs);
  await writeFile(path.join(stubs, 'slirp4netns'), '#!/bin/sh\necho "no tap device here" >&2\nexit 1\n', { mode: 0o755 });
  t.after(() => {
    for (const pid of processesMentioning(marker)) process.kill(pid, 'SIGKILL');
  });
  // Into files: a held sandbox would keep pipes open, and spawnSync waiting for them.
  const [stdout, stderr] = [path.join(root, 'stdout'), path.join(root, 'stderr')];
  const fds = [openSync(stdout, 'w'), openSync(stderr, 'w')];
  const started = spawnSync(wrapped.argv[0], wrapped.argv.slice(1), { env: { ...wrapped.env, PATH: `${stubs}:${wrapped.env.PATH}` }, stdio: ['ignore', ...fds] });
  fds.forEach((fd) => closeSync(fd));
  assert.equal(started.status, 125, await readFile(stderr, 'utf8'));
  assert.equal(await readFile(stdout, 'utf8'), '');
  assert.match(await readFile(stderr, 'utf8'), new RegExp(`cannot give the job a network on ${hostname()}: slirp4netns: no tap device here`));
  assert.deepEqual(processesMentioning(marker), []);
});

/** Pids of slirp4netns processes whose environment holds `variable` (NAME=value). */
async function slirpProcessesWith(variable: string): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const found: string[] = [];
  for (const pid of pids) {
    const [comm, environ] = await Promise.all([readFile(`/proc/${pid}/comm`, 'utf8'), readFile(`/proc/${pid}/environ`, 'utf8')].map((read) => read.catch(() => '')));
    if (comm.trim() === 'slirp4netns' && environ.split('\0').includes(variable)) found.push(pid);
  }
  return found;
}

const MiB = 1024 * 1024;

/** Live (not zombie) processes whose command line mentions `marker`. */
function processesMentioning(marker: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** This process's job groups (`<prefix>-<our pid>-<n>`) in every hierarchy the sandbox uses. */
function ourJobGroups(): string[] {
  const own = new Map(readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((line) => [line.split(':')[1], line.split(':')[2]] as const));
  const name = new RegExp(`^wes-[0-9a-f]{8}-${process.pid}-\\d+$`);
  return ['memory', 'cpu', 'cpuacct', 'pids'].flatMap((controller) => {
    const parent = path.join('/sys/fs/cgroup', controller, own.get(controller) ?? '/');
    return existsSync(parent) ? readdirSync(parent).filter((entry) => name.test(entry)) : [];
  });
}

test("a sandboxed job's CPU time and peak memory are those of its own processes, each job's alone", async (t) => {
  const { wrapper, spec } = await setUp(t);
  if (wrapper.description.includes('NOT enforced')) {
    t.skip('no writable cgroup v1 hierarchy: sandboxed jobs are not measured here');
    return;
  }
  const executor = new LocalExecutor({ maxJobs: 1, wrapper });
  t.after(() => executor.shutdown());
  // The shell's child makes the figures: a bytes object is written (200 MiB touched), then 1 s of CPU.
  const hungry = spec(`python3 -c 'import time; b = b"x" * (200 << 20); t = time.process_time()\nwhile time.process_time() - t < 1: pass' & wait`);
  const first = await executor.submit(hungry, new AbortController().signal).result;
  const second = await executor.submit(spec('true'), new AbortController().signal).result;
  assert.deepEqual(first.outcome, { kind: 'exited', exitCode: 0 });
  assert.ok(first.usage !== undefined && second.usage !== undefined, 'sandboxed jobs are measured');
  assert.ok(first.usage.maxRssBytes >= 200 * MiB, `peak ${first.usage.maxRssBytes / MiB} MiB`);
  assert.ok(first.usage.cpuSeconds >= 0.8, `cpu ${first.usage.cpuSeconds} s`);
  assert.ok(second.usage.maxRssBytes < 100 * MiB, `true's peak ${second.usage.maxRssBytes / MiB} MiB`);
  assert.ok(second.usage.cpuSeconds < 0.5, `true's cpu ${second.usage.cpuSeconds} s`);
});

test('when a sandboxed job is reported ended nothing it forked still runs, and its groups go by shutdown', async (t) => {
  const { spec, wrapper } = await setUp(t);
  const marker = `wes-daemon-${process.pid}-${Date.now()}`;
  const executor = new LocalExecutor({ maxJobs: 2, wrapper });
  t.after(() => executor.shutdown());
  // A daemon in a session of its own that ignores SIGTERM, still running when the job's command exits.
  const daemon = spec(`setsid sh -c 'trap "" TERM HUP; while :; do sleep 1; done' ${marker} & sleep 0.3; echo started`);
  const results = await Promise.all([daemon, daemon, spec('true'), spec('true')].map((job) => executor.submit(job, new AbortController().signal).result));
  assert.deepEqual(processesMentioning(marker), [], 'a daemon outlived its job');
  for (const { outcome } of results) assert.deepEqual(outcome, { kind: 'exited', exitCode: 0 });
  await executor.shutdown();
  assert.deepEqual(ourJobGroups(), []);
});
