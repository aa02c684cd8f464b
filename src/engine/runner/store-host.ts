/**
 * The EngineHost of a server run: writes each step instance and job into the store as the
 * engine reports it, so task pages show a running run as it grows, and answers resume
 * questions from the store. One instance per run attempt; its caches are rebuilt from the
 * store (step instances by task path) after a restart.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/database.js';
import {
  attachSingleJob,
  findCollectionJobId,
  findJob,
  findStepInstance,
  insertCollection,
  insertCollectionJobs,
  insertJobs,
  insertStepInstances,
  insertWorkflow,
  insertWorkflowStep,
  markJobEnded,
  markJobStarted,
  replaceCollectionJob,
  setJobExecutorId,
} from '../../store/queries/jobs.js';
import { findTask } from '../../store/queries/tasks.js';
import { readStderrTail } from './stderr-tail.js';
import type { JobState } from '../../store/tables/job.table.js';
import { formatStepPath, sortKeyOf } from '../../store/task-path.js';
import type { CwlObject } from '../cwl-value.js';
import type { EngineHost, JobEnd, JobRecord, StepInfo, StepPath } from '../engine-host.js';
import { parseJson, stringifyJson } from '../../exact-json.js';

interface StepInstance {
  readonly id: number;
  readonly sortKey: string;
  collectionId: number | null;
}

const JOB_STATES: Record<JobEnd['state'], JobState> = { ok: 'ok', failed: 'error', skipped: 'skipped', canceled: 'canceled' };

export class StoreEngineHost implements EngineHost {
  readonly #db: Kysely<Database>;
  readonly #invocationId: number;
  /** workflow_step ids of the top-level steps, by order. */
  readonly #topLevelSteps: ReadonlyMap<number, number>;
  readonly #steps = new Map<string, StepInstance>();
  readonly #jobs = new Map<string, number>();
  /** False for a run's first attempt: no step or job was recorded before, so nothing is looked up. */
  readonly #resuming: boolean;
  #nestedWorkflow: { id: number; next: number } | undefined;

  constructor(db: Kysely<Database>, invocationId: number, topLevelSteps: ReadonlyMap<number, number>, resuming: boolean) {
    this.#db = db;
    this.#invocationId = invocationId;
    this.#topLevelSteps = topLevelSteps;
    this.#resuming = resuming;
  }

  async stepStarted(step: StepInfo): Promise<void> {
    await this.#stepInstance(step.path, step);
  }

  async scatterSized(path: StepPath): Promise<void> {
    const step = await this.#stepInstance(path);
    if (step.collectionId !== null) return;
    step.collectionId = await this.#db.transaction().execute((trx) => insertCollection(trx, step.id, now()));
  }

  async jobCreated(path: StepPath, element: number | undefined, job: JobRecord): Promise<void> {
    await this.#createJob(path, element, 'queued', job);
  }

  async jobStarted(path: StepPath, element: number | undefined, startedAt: Date): Promise<void> {
    const jobId = this.#jobs.get(jobKey(path, element));
    if (jobId !== undefined) await markJobStarted(this.#db, jobId, startedAt.toISOString());
  }

  async jobEnded(path: StepPath, element: number | undefined, end: JobEnd, endedAt: Date): Promise<void> {
    const jobId = this.#jobs.get(jobKey(path, element)) ?? (await this.#createJob(path, element, JOB_STATES[end.state]));
    await markJobEnded(
      this.#db,
      jobId,
      {
        state: JOB_STATES[end.state],
        exitCode: 'exitCode' in end ? end.exitCode : undefined,
        outputs: end.state === 'ok' ? stringifyJson(end.outputs) : undefined,
        message: end.state === 'failed' ? end.message : undefined,
        usage: 'usage' in end ? end.usage : undefined,
        stderrTail: end.state === 'failed' ? await readStderrTail(this.#db, this.#invocationId, jobId) : undefined,
      },
      endedAt.toISOString(),
    );
  }

  async jobSubmitted(path: StepPath, element: number | undefined, externalId: string): Promise<void> {
    const jobId = this.#jobs.get(jobKey(path, element));
    if (jobId !== undefined) await setJobExecutorId(this.#db, jobId, externalId);
  }

  async findExternalJobId(path: StepPath, element: number | undefined): Promise<string | undefined> {
    if (!this.#resuming) return undefined;
    const task = await findTask(this.#db, this.#invocationId, formatStepPath(path), element);
    if (task?.job_id == null) return undefined;
    const job = await findJob(this.#db, task.job_id);
    // 'canceled' too: a server shutdown reports its detached jobs canceled and leaves them running.
    return job?.executor_job_id != null && ['queued', 'running', 'canceled'].includes(job.state) ? job.executor_job_id : undefined;
  }

  async findCompletedJob(path: StepPath, element: number | undefined): Promise<CwlObject | undefined> {
    if (!this.#resuming) return undefined;
    const task = await findTask(this.#db, this.#invocationId, formatStepPath(path), element);
    if (task?.job_id == null || task.job_state !== 'ok') return undefined;
    const job = await findJob(this.#db, task.job_id);
    return job?.outputs == null ? undefined : (parseJson(job.outputs) as CwlObject);
  }

  async #createJob(path: StepPath, element: number | undefined, state: JobState, job?: JobRecord): Promise<number> {
    const step = await this.#stepInstance(path);
    const time = now();
    const jobId = await this.#db.transaction().execute(async (trx) => {
      const [id] = await insertJobs(trx, [
        {
          state,
          argv: JSON.stringify(job?.argv ?? []),
          exit_code: null,
          work_dir: job?.workDir ?? null,
          stdout_path: job?.stdoutPath ?? null,
          stderr_path: job?.stderrPath ?? null,
          outputs: null,
          message: null,
          create_time: time,
          start_time: null,
          end_time: null,
        },
      ]);
      if (element === undefined) {
        await attachSingleJob(trx, step.id, id, time);
        return id;
      }
      if (step.collectionId === null) step.collectionId = await insertCollection(trx, step.id, time);
      // After a restart an element may already have a (unfinished) job: point it at the new one.
      if ((await findCollectionJobId(trx, step.collectionId, element)) !== undefined) {
        await replaceCollectionJob(trx, step.collectionId, element, id);
      } else {
        await insertCollectionJobs(
          trx,
          { stepId: step.id, collectionId: step.collectionId, invocationId: this.#invocationId, sortKey: step.sortKey },
          [{ orderIndex: element, jobId: id }],
          time,
        );
      }
      return id;
    });
    this.#jobs.set(jobKey(path, element), jobId);
    return jobId;
  }

  async #stepInstance(path: StepPath, info?: StepInfo): Promise<StepInstance> {
    const taskPath = formatStepPath(path);
    const cached = this.#steps.get(taskPath);
    if (cached !== undefined) return cached;
    const existing = this.#resuming ? await findStepInstance(this.#db, this.#invocationId, taskPath) : undefined;
    if (existing !== undefined) {
      const step = { id: existing.id, sortKey: existing.sort_key, collectionId: existing.implicit_collection_jobs_id };
      this.#steps.set(taskPath, step);
      return step;
    }
    const workflowStepId = await this.#workflowStepOf(path, info);
    const sortKey = sortKeyOf(path);
    const [id] = await insertStepInstances(
      this.#db,
      [{ workflowInvocationId: this.#invocationId, workflowStepId, orderIndex: path[path.length - 1].order, taskPath, sortKey }],
      now(),
    );
    const step = { id, sortKey, collectionId: null };
    this.#steps.set(taskPath, step);
    return step;
  }

  /** Top-level steps were recorded at start; steps inside subworkflows get rows as they appear. */
  async #workflowStepOf(path: StepPath, info: StepInfo | undefined): Promise<number> {
    if (path.length === 1) {
      const id = this.#topLevelSteps.get(path[0].order);
      if (id !== undefined) return id;
    }
    const row = {
      type: info?.kind ?? 'tool',
      label: info?.label ?? null,
      tool_id: info?.toolId ?? null,
    };
    if (this.#nestedWorkflow === undefined) {
      const created = await insertWorkflow(this.#db, `run ${this.#invocationId} nested steps`, [{ order_index: 0, ...row }], now());
      this.#nestedWorkflow = { id: created.workflowId, next: 1 };
      return created.stepIds[0];
    }
    const order = this.#nestedWorkflow.next++;
    return insertWorkflowStep(this.#db, { workflow_id: this.#nestedWorkflow.id, order_index: order, ...row });
  }
}

function jobKey(path: StepPath, element: number | undefined): string {
  return element === undefined ? formatStepPath(path) : `${formatStepPath(path)}#${element}`;
}

function now(): string {
  return new Date().toISOString();
}
