/**
 * What an unconfined local job used (no wrapper, as WES_JOB_SANDBOX=none): CPU time and peak
 * memory from the usage-only control groups the job is born in, whichever of its processes
 * spent them; a process that left the job's process group is still the job's, and is stopped
 * with it. Where this host has no writable memory and cpuacct hierarchy, usage must be absent,
 * never a guess.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobResult } from '../../src/executors/executor.js';
import { LocalExecutor } from '../../src/executors/local/local-executor.js';
import { JobCgroups, USAGE_CONTROLLERS } from '../../src/executors/sandbox/job-cgroups.js';

const PATH = process.env.PATH ?? '/usr/bin:/bin';
const MiB = 1024 * 1024;
const measurable = (await JobCgroups.detect(`wes-usage-probe-${process.pid}`, USAGE_CONTROLLERS))?.controllers.length === USAGE_CONTROLLERS.length;

/** Touches 200 MiB (a bytes object is written, unlike calloc'd memory), then burns 1 s of CPU. */
const HUNGRY_PYTHON = 'import time; b = b"x" * (200 << 20); t = time.process_time()\nwhile time.process_time() - t < 1: pass';

async function runJob(t: { after: (fn: () => Promise<void>) => void }, argv: string[]): Promise<JobResult> {
  const dir = await mkdtemp(join(tmpdir(), 'local-usage-'));
  const executor = new LocalExecutor({ maxJobs: 1 });
  t.after(async () => {
    await executor.shutdown();
    await rm(dir, { recursive: true, force: true });
  });
  const { result } = executor.submit(
    { id: 'hungry', argv, cwd: dir, env: { PATH }, stdoutPath: join(dir, 'out'), stderrPath: join(dir, 'err') },
    new AbortController().signal,
  );
  const ended = await result;
  assert.deepEqual(ended.outcome, { kind: 'exited', exitCode: 0 }, await readFile(join(dir, 'err'), 'utf8'));
  return ended;
}

function assertHungry(result: JobResult): void {
  if (!measurable) {
    assert.equal(result.usage, undefined, 'without writable cgroups usage is unknown, not guessed');
    return;
  }
  assert.ok(result.usage !== undefined, 'an unconfined job is measured');
  assert.ok(result.usage.maxRssBytes >= 200 * MiB, `peak ${result.usage.maxRssBytes / MiB} MiB`);
  assert.ok(result.usage.cpuSeconds >= 0.8, `cpu ${result.usage.cpuSeconds} s`);
}

test('an unconfined job reports its CPU time and peak memory', async (t) => {
  if (!measurable) t.diagnostic('no writable memory and cpuacct cgroup v1 hierarchy here: checking that usage stays unknown');
  assertHungry(await runJob(t, ['python3', '-c', HUNGRY_PYTHON]));
});

test('what a forked child of the job allocates and burns is counted', async (t) => {
  // The shell itself uses next to nothing; only its child makes the figures.
  assertHungry(await runJob(t, ['sh', '-c', 'python3 -c "$1" & wait', 'sh', HUNGRY_PYTHON]));
});

test('jobs one after another are each measured alone', async (t) => {
  const first = await runJob(t, ['python3', '-c', HUNGRY_PYTHON]);
  const second = await runJob(t, ['true']);
  assertHungry(first);
  if (measurable) {
    assert.ok(second.usage !== undefined);
    assert.ok(second.usage.maxRssBytes < 100 * MiB, `true's peak ${second.usage.maxRssBytes / MiB} MiB`);
    assert.ok(second.usage.cpuSeconds < 0.5, `true's cpu ${second.usage.cpuSeconds} s`);
  }
});

test("a daemon that left the job's process group is the job's and ends with it", { skip: measurable ? false : 'no writable cgroups: only the process group is stopped' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'local-usage-'));
  const pidFile = join(dir, 'daemon.pid');
  let daemon: number | undefined;
  t.after(() => {
    if (daemon !== undefined) {
      try {
        process.kill(daemon, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
  });
  // setsid puts the sleeper in a session of its own, beyond the reach of a process-group kill.
  await runJob(t, ['sh', '-c', `setsid sh -c 'echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300' sh '${pidFile}' & while [ ! -e '${pidFile}' ]; do sleep 0.01; done`]);
  daemon = Number(await readFile(pidFile, 'utf8'));
  assert.ok(daemon > 0);
  assert.equal(await alive(daemon), false, `the daemon ${daemon} outlived its job`);
  await rm(dir, { recursive: true, force: true });
});

/** A zombie (killed, not yet reaped by whoever adopted it) is not alive. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
