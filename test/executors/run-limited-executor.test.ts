/** A run's max_jobs and job_time_limit, applied over the real LocalExecutor. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalExecutor } from '../../src/executors/local/local-executor.js';
import { RunLimitedExecutor } from '../../src/executors/run-limited-executor.js';
import type { JobSpec } from '../../src/executors/executor.js';

function spec(dir: string, id: string, argv: string[]): JobSpec {
  return {
    id,
    argv,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdoutPath: path.join(dir, `${id}.out`),
    stderrPath: path.join(dir, `${id}.err`),
  };
}

test('max_jobs: jobs of one run start only when an earlier one has ended, in order', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-limit-'));
  const inner = new LocalExecutor({ maxJobs: 4 });
  t.after(async () => {
    await inner.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const limited = new RunLimitedExecutor(inner, { maxJobs: 1 });
  const signal = new AbortController().signal;
  const results = await Promise.all(['a', 'b', 'c'].map((id) => limited.submit(spec(dir, id, ['sleep', '0.2']), signal).result));
  for (const result of results) assert.deepEqual(result.outcome, { kind: 'exited', exitCode: 0 });
  for (let i = 1; i < results.length; i++) {
    const previousEnd = results[i - 1].endedAt.getTime();
    assert.ok((results[i].startedAt?.getTime() ?? 0) >= previousEnd, `job ${i} started before job ${i - 1} ended`);
  }
});

test('a job aborted while waiting for a run slot never starts; job_time_limit applies to jobs without their own', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wes-limit-'));
  const inner = new LocalExecutor({ maxJobs: 4 });
  t.after(async () => {
    await inner.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const limited = new RunLimitedExecutor(inner, { maxJobs: 1, jobTimeLimitSeconds: 1 });
  const first = limited.submit(spec(dir, 'long', ['sleep', '30']), new AbortController().signal);
  const waiting = new AbortController();
  const second = limited.submit(spec(dir, 'never', ['touch', path.join(dir, 'ran')]), waiting.signal);
  waiting.abort();
  assert.deepEqual((await second.result).outcome, { kind: 'canceled' });
  assert.deepEqual((await first.result).outcome, { kind: 'timed-out' });
  assert.equal(fs.existsSync(path.join(dir, 'ran')), false);
  const own = await limited.submit({ ...spec(dir, 'own', ['sleep', '1.5']), timeLimitSeconds: 5 }, new AbortController().signal).result;
  assert.deepEqual(own.outcome, { kind: 'exited', exitCode: 0 });
});
