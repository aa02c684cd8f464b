/**
 * Per-job control groups (job-cgroups.ts) as the local executor's launcher makes them for a
 * wrapper that requires them (WrappedCommand.cgroups: the sandbox's limits), and as they are
 * emptied and removed. Real cgroup v1 groups where this host lets the test make them; the
 * failure path needs none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { CommandWrapper, JobSpec } from '../../src/executors/executor.js';
import { LocalExecutor } from '../../src/executors/local/local-executor.js';
import { JobCgroups, makeGroups, type JobCgroup } from '../../src/executors/sandbox/job-cgroups.js';

const PATH = process.env.PATH ?? '/usr/bin:/bin';
const PREFIX = `wes-cgtest-${process.pid}`;
const groups = await JobCgroups.detect(PREFIX, ['memory', 'pids']);
const usable = groups?.controllers.length === 2 ? groups : undefined;
const NO_GROUPS = 'no writable memory and pids cgroup v1 hierarchy here';
/** Only turns a process that is never killed into a failure instead of a hang. */
const HANG = 60_000;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'job-cgroups-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function spec(dir: string, script: string): JobSpec {
  return { id: 'job', argv: ['sh', '-c', script], cwd: dir, env: { PATH }, stdoutPath: join(dir, 'out'), stderrPath: join(dir, 'err') };
}

/** Starts the job as is, in the groups given (what the sandbox's wrapper asks of the executor). */
function requiring(group: Pick<JobCgroup, 'plan' | 'remove'>): CommandWrapper {
  return { wrap: async (job) => ({ argv: job.argv, env: job.env, cgroups: group.plan, cleanup: () => group.remove() }) };
}

/** A process sleeping until killed, and its end. */
function sleeper(): { pid: number; gone: Promise<void> } {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  return { pid: child.pid!, gone: new Promise((resolve) => child.once('exit', () => resolve())) };
}

function stop(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone, as it should be.
  }
}

test('a job whose wrapper requires control groups is born in them, their limits written first', { skip: usable === undefined && NO_GROUPS }, async (t) => {
  const dir = await tempDir(t);
  const group = usable!.reserve({ ramMiB: 64, maxProcesses: 10 });
  const [memory, pids] = group.plan.tasksFiles.map(dirname);
  const executor = new LocalExecutor({ maxJobs: 1, wrapper: requiring(group) });
  t.after(() => executor.shutdown());
  const { outcome } = await executor.submit(
    spec(dir, `cat /proc/self/cgroup; cat '${memory}/memory.limit_in_bytes' '${pids}/pids.max'`),
    new AbortController().signal,
  ).result;
  assert.deepEqual(outcome, { kind: 'exited', exitCode: 0 }, await readFile(join(dir, 'err'), 'utf8'));
  const lines = (await readFile(join(dir, 'out'), 'utf8')).split('\n');
  for (const controller of ['memory', 'pids']) {
    const line = lines.find((each) => each.split(':')[1] === controller);
    assert.ok(line?.endsWith(`/${basename(memory)}`), `${controller}: ${line}`);
  }
  assert.ok(lines.includes(String(64 * 1024 * 1024)), lines.join('\n'));
  assert.ok(lines.includes('10'), lines.join('\n'));
  assert.equal(existsSync(memory), false, 'the groups are removed after the job');
});

test('a job whose required control groups cannot be made fails to start and never runs', async (t) => {
  const dir = await tempDir(t);
  const marker = join(dir, 'ran');
  const impossible = { plan: { tasksFiles: [join(dir, 'no-such-hierarchy', 'group', 'tasks')], settings: [] }, remove: async () => undefined };
  const executor = new LocalExecutor({ maxJobs: 1, wrapper: requiring(impossible) });
  t.after(() => executor.shutdown());
  const { outcome } = await executor.submit(spec(dir, `touch '${marker}'`), new AbortController().signal).result;
  assert.equal(outcome.kind, 'failed-to-start');
  assert.match(outcome.kind === 'failed-to-start' ? outcome.message : '', /cannot set up the job's control groups/);
  assert.equal(existsSync(marker), false, 'the job ran outside its groups');
});

test('vacate kills what is in the groups but the processes it spares, and keeps the groups', { skip: usable === undefined && NO_GROUPS, timeout: HANG }, async (t) => {
  const group = usable!.reserve();
  const [spared, killed] = [sleeper(), sleeper()];
  t.after(() => stop(spared.pid));
  t.after(() => group.remove());
  makeGroups(group.plan);
  for (const tasks of group.plan.tasksFiles) {
    for (const pid of [spared.pid, killed.pid]) writeFileSync(join(dirname(tasks), 'cgroup.procs'), String(pid));
  }
  await group.vacate((pid) => pid === spared.pid);
  await killed.gone;
  assert.equal(existsSync(`/proc/${spared.pid}`), true, 'the spared process was killed');
  assert.equal(existsSync(dirname(group.plan.tasksFiles[0]!)), true);
  await group.remove();
  await spared.gone;
  assert.equal(existsSync(dirname(group.plan.tasksFiles[0]!)), false);
});

test('a later server removes the groups of a dead one, killing what is still in them', { skip: usable === undefined && NO_GROUPS, timeout: HANG }, async (t) => {
  const dead = spawn('true');
  await new Promise((resolve) => dead.once('exit', resolve));
  // The dead server's group, named as its JobCgroups would have, with a process still inside.
  const parents = usable!.reserve().plan.tasksFiles.map((tasks) => dirname(dirname(tasks)));
  const stale = parents.map((parent) => join(parent, `${PREFIX}-${dead.pid}-0`));
  const inside = sleeper();
  t.after(() => stop(inside.pid));
  for (const dir of stale) {
    await mkdir(dir);
    writeFileSync(join(dir, 'cgroup.procs'), String(inside.pid));
  }
  assert.equal(await usable!.reapStale(), stale.length);
  await inside.gone;
  for (const dir of stale) assert.equal(existsSync(dir), false, `${dir} is left`);
});
