/**
 * Issue 10's resource use for the jobs that reported none before: an unconfined local job
 * (WES_JOB_SANDBOX=none) and a container job (DockerRequirement, podman). Each runs a shell
 * that forks a child which touches 200 MiB and burns 1 s of CPU, so only a measurement that
 * follows every process of the job sees it; the figures must reach the TaskLog and the run's
 * task summary. The container test skips, saying why, where podman is not installed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { buildTestImages } from '../helpers/test-images.js';
import { getJson, submitWorkflow, waitForState } from './helpers.js';
import { detectContainerEngine } from '../../src/executors/container/container-engine.js';
import { JobCgroups, USAGE_CONTROLLERS } from '../../src/executors/sandbox/job-cgroups.js';
import type { TaskListResponse, TaskSummary } from '../../src/wes/wes-types.js';

const MiB = 1024 * 1024;
const measurable = (await JobCgroups.detect(`wes-usage-probe-${process.pid}`, USAGE_CONTROLLERS))?.controllers.length === USAGE_CONTROLLERS.length;
const detected = await detectContainerEngine(process.env, 'podman');
const noPodman = detected.engine === undefined ? `podman is not installed here: ${detected.problem}` : await buildTestImages('podman');

/** A written bytes object (calloc'd memory would stay untouched), then a busy loop until 1 s of CPU. */
const HUNGRY_PYTHON = 'import time; b = b"x" * (200 << 20); t = time.process_time(); [0 for _ in iter(lambda: time.process_time() - t < 1, False)]';

function hungryTool(requirements: string): string {
  return `cwlVersion: v1.2
class: CommandLineTool
requirements:
  ResourceRequirement: {ramMin: 512}
${requirements}
baseCommand: [sh, -c, 'python3 -c "$1" & wait', sh, '${HUNGRY_PYTHON}']
inputs: []
outputs: []
`;
}

async function assertMeasured(t: TestContext, app: TestApp, tool: string): Promise<void> {
  const { auth } = await app.addUser('alice');
  const runId = await submitWorkflow(app, auth, 'hungry.cwl', {}, [{ name: 'hungry.cwl', content: tool }]);
  assert.equal(await waitForState(app, auth, runId), 'COMPLETE');
  const { task_logs: [task] } = await getJson<TaskListResponse>(app, auth, `/runs/${runId}/tasks`);
  const summary = await getJson<TaskSummary>(app, auth, `/runs/${runId}/task-summary`);
  const resources = task.resources ?? {};
  if (!measurable) {
    t.diagnostic('no writable memory and cpuacct cgroup v1 hierarchy here: checking that usage stays unknown');
    assert.equal(resources.cpu_seconds, undefined);
    assert.equal(resources.max_rss_bytes, undefined);
    assert.equal(summary.jobs_measured, 0);
    return;
  }
  assert.ok((resources.max_rss_bytes ?? 0) >= 200 * MiB, JSON.stringify(resources));
  assert.ok((resources.cpu_seconds ?? 0) >= 0.8, JSON.stringify(resources));
  assert.equal(summary.jobs_measured, 1);
  assert.equal(summary.max_rss_bytes, resources.max_rss_bytes);
  assert.equal(summary.cpu_seconds, resources.cpu_seconds);
  assert.equal(summary.steps[0].cpu_seconds, resources.cpu_seconds);
  assert.deepEqual(await leftoverGroups(), [], 'every group made for the job is removed with it');
}

/** Groups named after this process (the server) in any hierarchy, at its root or below this process's own group. */
async function leftoverGroups(): Promise<string[]> {
  const own = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').map((line) => line.split(':')[2] ?? '/');
  const found: string[] = [];
  for (const hierarchy of await readdir('/sys/fs/cgroup')) {
    for (const below of new Set(['/', ...own])) {
      const dir = path.join('/sys/fs/cgroup', hierarchy, below);
      const names = await readdir(dir).catch(() => [] as string[]);
      found.push(...names.filter((name) => name.startsWith('wes-') && name.includes(`-${process.pid}-`)).map((name) => path.join(dir, name)));
    }
  }
  return found;
}

test('an unconfined job reports the CPU time and peak memory of the child it forked', async (t) => {
  const app = await buildTestApp(t, { engine: true, executor: 'local', jobSandbox: 'none' });
  await assertMeasured(t, app, hungryTool(''));
});

test('a container job reports the CPU time and peak memory of its container', { skip: noPodman ?? false }, async (t) => {
  const app = await buildTestApp(t, { engine: true, executor: 'local', containers: detected.engine });
  await assertMeasured(t, app, hungryTool('  DockerRequirement: {dockerPull: docker.io/debian:stable-slim}'));
});
