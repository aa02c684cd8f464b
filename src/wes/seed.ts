/**
 * `wes seed`: writes a synthetic run of a given shape straight into the store, for tests and
 * benchmarks. The shape is a list of top-level steps, each an input (no job), a single job,
 * a mapped step with N collection jobs, or a mapped step whose collection has no jobs yet.
 * Jobs are finished (mostly ok, some failed) except the last few, which are running; each
 * step instance gets one stdout and one stderr file shared by its jobs.
 */
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/database.js';
import { insertRun } from '../store/queries/runs.js';
import {
  attachSingleJob,
  insertCollection,
  insertCollectionJobs,
  insertJobs,
  insertStepInstances,
  insertWorkflow,
} from '../store/queries/jobs.js';
import type { NewJob } from '../store/tables/job.table.js';
import { formatStepPath, sortKeyOf } from '../store/task-path.js';

export type SeedStep =
  | { readonly kind: 'input' }
  | { readonly kind: 'single' }
  | { readonly kind: 'collection'; readonly jobs: number };

export interface SeedOptions {
  readonly userId: number;
  readonly runsDir: string;
  readonly steps: readonly SeedStep[];
  /** How many of the last jobs are still running (no end time, no exit code). */
  readonly runningJobs?: number;
  /** Write log files (one stdout/stderr per step instance); off for large benchmarks. */
  readonly logs?: boolean;
  /** The state of each finished job by its number (default: ok, every 97th failed). */
  readonly jobState?: (jobNumber: number) => 'ok' | 'error' | 'skipped';
  /** How long each finished job ran, in seconds (default 0). */
  readonly jobSeconds?: (jobNumber: number) => number;
}

export interface SeedResult {
  readonly runId: string;
  readonly invocationId: number;
  readonly tasks: number;
}

/** A shape: `inputs` input steps, then `steps` tool steps of which `mapped` (spread evenly) map over `elements`. */
export function seedShape(shape: { inputs: number; steps: number; mapped: number; elements: number }): SeedStep[] {
  const steps: SeedStep[] = Array.from({ length: shape.inputs }, () => ({ kind: 'input' as const }));
  for (let i = 0; i < shape.steps; i++) {
    const mapped = shape.mapped > 0 && Math.floor(((i + 1) * shape.mapped) / shape.steps) > Math.floor((i * shape.mapped) / shape.steps);
    steps.push(mapped ? { kind: 'collection', jobs: shape.elements } : { kind: 'single' });
  }
  return steps;
}

export function countSeedTasks(steps: readonly SeedStep[]): number {
  return steps.reduce((n, s) => n + (s.kind === 'collection' && s.jobs > 0 ? s.jobs : 1), 0);
}

export async function seedRun(db: Kysely<Database>, options: SeedOptions): Promise<SeedResult> {
  const uuid = randomUUID();
  const runDir = path.join(options.runsDir, uuid);
  await fsp.mkdir(runDir, { recursive: true });
  const totalJobs = options.steps.reduce((n, s) => n + (s.kind === 'single' ? 1 : s.kind === 'collection' ? s.jobs : 0), 0);
  const firstRunning = totalJobs - (options.runningJobs ?? 0);
  const invocationId = await db.transaction().execute(async (trx) => {
    const now = new Date().toISOString();
    const { workflowId, stepIds } = await insertWorkflow(
      trx,
      'seeded workflow',
      options.steps.map((s, i) => ({
        order_index: i,
        type: s.kind === 'input' ? ('input' as const) : ('tool' as const),
        label: s.kind === 'input' ? `input_${i}` : i % 3 === 0 ? null : `step ${i}`,
        tool_id: s.kind === 'input' ? null : `tool_${i % 7}.cwl`,
      })),
      now,
    );
    const run = await insertRun(trx, {
      uuid,
      user_id: options.userId,
      workflow_id: workflowId,
      state: firstRunning < totalJobs ? 'RUNNING' : 'COMPLETE',
      request: JSON.stringify({
        workflow_params: {},
        workflow_type: 'CWL',
        workflow_type_version: 'v1.2',
        tags: { seeded: 'true' },
        workflow_url: 'seeded.cwl',
      }),
      run_dir: runDir,
      outputs: null,
      message: null,
      create_time: now,
      start_time: now,
      end_time: firstRunning < totalJobs ? null : now,
      update_time: now,
    }, { seeded: 'true' });
    const paths = options.steps.map((_, i) => [{ order: i }]);
    const instanceIds = await insertStepInstances(
      trx,
      paths.map((p, i) => ({
        workflowInvocationId: run.id,
        workflowStepId: stepIds[i],
        orderIndex: i,
        taskPath: formatStepPath(p),
        sortKey: sortKeyOf(p),
      })),
      now,
    );
    let jobNumber = 0;
    for (let i = 0; i < options.steps.length; i++) {
      const step = options.steps[i];
      if (step.kind === 'input') continue;
      const logs = options.logs === false ? undefined : await writeStepLogs(runDir, i);
      const count = step.kind === 'single' ? 1 : step.jobs;
      const jobs: NewJob[] = [];
      for (let e = 0; e < count; e++) jobs.push(seededJob(jobNumber++, firstRunning, { step: i, element: e }, options, logs, now));
      if (step.kind === 'single') {
        const [jobId] = await insertJobs(trx, jobs);
        await attachSingleJob(trx, instanceIds[i], jobId, now);
      } else {
        await insertMappedJobs(trx, { stepId: instanceIds[i], invocationId: run.id, sortKey: sortKeyOf(paths[i]) }, jobs, now);
      }
    }
    return run.id;
  });
  return { runId: uuid, invocationId, tasks: countSeedTasks(options.steps) };
}

async function insertMappedJobs(
  trx: Transaction<Database>,
  step: { stepId: number; invocationId: number; sortKey: string },
  jobs: readonly NewJob[],
  now: string,
): Promise<void> {
  const collectionId = await insertCollection(trx, step.stepId, now);
  if (jobs.length === 0) return;
  const jobIds = await insertJobs(trx, jobs);
  await insertCollectionJobs(
    trx,
    { ...step, collectionId },
    jobIds.map((jobId, orderIndex) => ({ orderIndex, jobId })),
    now,
  );
}

function seededJob(
  n: number,
  firstRunning: number,
  at: { step: number; element: number },
  options: Pick<SeedOptions, 'jobState' | 'jobSeconds'>,
  logs: { stdout: string; stderr: string } | undefined,
  now: string,
): NewJob {
  const running = n >= firstRunning;
  const state = running ? 'running' : (options.jobState?.(n) ?? (n % 97 === 96 ? 'error' : 'ok'));
  const failed = state === 'error';
  const seconds = running ? 0 : (options.jobSeconds?.(n) ?? 0);
  return {
    state,
    argv: JSON.stringify(['tool', `--step=${at.step}`, `--element=${at.element}`]),
    exit_code: running || state === 'skipped' ? null : failed ? 1 : 0,
    work_dir: null,
    stdout_path: logs?.stdout ?? null,
    stderr_path: logs?.stderr ?? null,
    outputs: null,
    message: failed ? 'exit code 1' : null,
    create_time: now,
    start_time: seconds === 0 ? now : new Date(Date.parse(now) - seconds * 1000).toISOString(),
    end_time: running ? null : now,
  };
}

async function writeStepLogs(runDir: string, order: number): Promise<{ stdout: string; stderr: string }> {
  const dir = path.join(runDir, 'logs', String(order));
  await fsp.mkdir(dir, { recursive: true });
  const stdout = path.join(dir, 'stdout.txt');
  const stderr = path.join(dir, 'stderr.txt');
  await fsp.writeFile(stdout, `stdout of step ${order}\n`);
  await fsp.writeFile(stderr, `stderr of step ${order}\n`);
  return { stdout, stderr };
}
