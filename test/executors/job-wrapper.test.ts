/** Which wrapper starts a job: the container branch for an image, else the sandbox, else none. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobWrapper, type NodeWrapper } from '../../src/executors/job-wrapper.js';
import type { CommandWrapper, JobSpec } from '../../src/executors/executor.js';

const job = (image?: string): JobSpec => ({
  id: 'j',
  argv: ['echo', 'hi'],
  cwd: '/tmp',
  env: { PATH: '/usr/bin:/bin' },
  stdoutPath: '/dev/null',
  stderrPath: '/dev/null',
  confinement: { mounts: [], network: false, ...(image === undefined ? {} : { image }) },
});

/** Prefixes argv with its name, so the test sees which branch ran; its batch variant with `<name>@node`. */
const named = (name: string): NodeWrapper => ({
  wrap: async (spec) => ({ argv: [name, ...spec.argv], env: {} }),
  forBatchJobs: (): CommandWrapper => ({ wrap: async (spec) => ({ argv: [`${name}@node`, ...spec.argv], env: {} }) }),
});

test('a job with an image goes to the container wrapper, any other to the sandbox', async () => {
  const wrapper = new JobWrapper({ sandbox: named('bwrap'), container: named('podman') });
  assert.deepEqual((await wrapper.wrap(job('debian:12'))).argv, ['podman', 'echo', 'hi']);
  assert.deepEqual((await wrapper.wrap(job())).argv, ['bwrap', 'echo', 'hi']);
});

test('an image without a container engine fails the job instead of running it on the host', async () => {
  const wrapper = new JobWrapper({ sandbox: named('bwrap') });
  await assert.rejects(wrapper.wrap(job('debian:12')), /image debian:12 needs a container engine/);
});

test('without a sandbox (WES_JOB_SANDBOX=none) a job starts as it is', async () => {
  const wrapped = await new JobWrapper({}).wrap(job());
  assert.deepEqual(wrapped.argv, ['echo', 'hi']);
  assert.deepEqual(wrapped.env, { PATH: '/usr/bin:/bin' });
});

test('jobs of a batch system go to the same branches, in their variants for the nodes', async () => {
  const batch = new JobWrapper({ sandbox: named('bwrap'), container: named('podman') }).forBatchJobs();
  assert.deepEqual((await batch.wrap(job('debian:12'))).argv, ['podman@node', 'echo', 'hi']);
  assert.deepEqual((await batch.wrap(job())).argv, ['bwrap@node', 'echo', 'hi']);
  await assert.rejects(new JobWrapper({ sandbox: named('bwrap') }).forBatchJobs().wrap(job('debian:12')), /image debian:12 needs a container engine/);
  assert.deepEqual((await new JobWrapper({}).forBatchJobs().wrap(job())).argv, ['echo', 'hi']);
});
