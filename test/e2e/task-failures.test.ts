/**
 * Issue 10 with the real engine and real processes: a failed job's stderr tail and exit code
 * group it in task-failures, the state filter and the summary count it, and the job's
 * resource use (measured by its sandbox cgroups where this host has them) shows in its TaskLog
 * and in the step's totals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, TEST_EXECUTOR } from '../helpers/test-app.js';
import { JobCgroups } from '../../src/executors/sandbox/job-cgroups.js';
import { getJson, submitWorkflow, waitForState } from './helpers.js';
import { FAILING_TOOL } from './workflows.js';
import type { FailureGroupsResponse, TaskListResponse, TaskSummary } from '../../src/wes/wes-types.js';

/** Allocates and touches ~64 MiB, burns some CPU, then fails saying why on its last stderr line. */
const HUNGRY_FAILING_TOOL = `cwlVersion: v1.2
class: CommandLineTool
requirements: {ShellCommandRequirement: {}, ResourceRequirement: {ramMin: 512}}
arguments:
  - valueFrom: >-
      echo first line >&2;
      head -c 67108864 /dev/zero | od > /dev/null;
      python3 -c "b = bytearray(64 * 1024 * 1024)" 2>/dev/null || dd if=/dev/zero bs=64M count=1 of=/dev/null 2>/dev/null;
      echo "out of patience" >&2; exit 7
    shellQuote: false
inputs: []
outputs: []
`;

test('a failed job is grouped by exit code and last stderr line, filtered, counted, and its usage shown', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const measured = TEST_EXECUTOR !== 'slurm' && (await JobCgroups.detect(`wes-usage-probe-${process.pid}`))?.controllers.includes('cpuacct') === true;

  const runId = await submitWorkflow(app, auth, 'hungry.cwl', {}, [{ name: 'hungry.cwl', content: HUNGRY_FAILING_TOOL }]);
  assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');

  const failures = await getJson<FailureGroupsResponse>(app, auth, `/runs/${runId}/task-failures`);
  assert.equal(failures.failure_groups.length, 1);
  const [group] = failures.failure_groups;
  assert.equal(group.exit_code, 7);
  assert.equal(group.stderr_tail, 'out of patience');
  assert.equal(group.count, 1);

  const failed = await getJson<TaskListResponse>(app, auth, `/runs/${runId}/tasks?state=EXECUTOR_ERROR`);
  assert.deepEqual(failed.task_logs.map((l) => l.id), group.first_task_ids);
  const [task] = failed.task_logs;
  assert.equal(typeof task.resources?.wall_seconds, 'number');

  const summary = await getJson<TaskSummary>(app, auth, `/runs/${runId}/task-summary`);
  assert.equal(summary.states.failed, 1);
  assert.equal(summary.wes_states.EXECUTOR_ERROR, 1);
  if (measured) {
    assert.ok((task.resources?.cpu_seconds ?? 0) > 0, JSON.stringify(task.resources));
    assert.ok((task.resources?.max_rss_bytes ?? 0) >= 32 * 1024 * 1024, JSON.stringify(task.resources));
    assert.equal(summary.jobs_measured, 1);
    assert.equal(summary.max_rss_bytes, task.resources?.max_rss_bytes);
    assert.equal(summary.steps[0].cpu_seconds, task.resources?.cpu_seconds);
  } else {
    t.diagnostic('no writable cpuacct and memory cgroups here: CPU and peak memory are not measured');
    assert.equal(task.resources?.cpu_seconds, undefined);
  }
});

test('failures with the same step, exit code and last stderr line share a group', async (t) => {
  const app = await buildTestApp(t, { engine: true });
  const { auth } = await app.addUser('alice');
  const runs = [];
  for (let i = 0; i < 2; i++) runs.push(await submitWorkflow(app, auth, 'fail.cwl', {}, [{ name: 'fail.cwl', content: FAILING_TOOL }]));
  for (const runId of runs) {
    assert.equal(await waitForState(app, auth, runId), 'EXECUTOR_ERROR');
    const { failure_groups } = await getJson<FailureGroupsResponse>(app, auth, `/runs/${runId}/task-failures`);
    assert.deepEqual(
      failure_groups.map((g) => [g.exit_code, g.stderr_tail, g.count]),
      [[3, 'about to fail', 1]],
    );
  }
});
