/**
 * The EngineHost of a server run: writes each step instance and job into the store as the
 * engine reports it, so task pages show a running run as it grows, and answers resume
 * questions from the store. One instance per run attempt; its caches are rebuilt from the
 * store (step instances by task path) after a restart.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import {
  attachSingleJob,
  cancelPlannedJobs,
  findJob,
  findStepInstance,
  insertCollection,
  insertJobs,
  insertStepInstances,
  insertWorkflow,
  insertWorkflowStep,
  listCollectionJobs,
  markJobRerun,
  planCollectionJobs,
} from '../store/queries/jobs.js';
import { findTask } from '../store/queries/tasks.js';
import type { JobState } from '../store/tables/job.table.js';
import { formatStepPath, sortKeyOf } from '../store/task-path.js';
import type { CwlObject } from '../engine/values/cwl-value.js';
import type { EngineHost, JobEnd, JobRecord, StepInfo, StepPath } from '../engine/engine-host.js';
import { parseJson, stringifyJson } from '../exact-json.js';
import { JobWriter } from './job-writer.js';
import { readStderrTail } from './stderr-tail.js';

interface StepInstance {
  readonly id: number;
  readonly sortKey: string;
  collectionId: number | null;
  /** A scattered step's planned jobs: ids by element, filled batch by batch (scatterSized). */
  planned?: PlannedJobs;
}

interface PlannedJobs {
  readonly ids: number[];
  /** Settles once the batch holding element e (index e / PLAN_BATCH) is in the store. */
  readonly batches: Promise<void>[];
  /** Set when the run stopped before the last elements: batches not yet begun are not written. */
  stopped: boolean;
}

/** Planned jobs written per transaction, so other runs' writes get their turns in between. */
const PLAN_BATCH = 1000;

const JOB_STATES: Record<JobEnd['state'], JobState> = { ok: 'ok', failed: 'error', skipped: 'skipped', canceled: 'canceled' };

export class StoreEngineHost implements EngineHost {
  readonly #db: Kysely<Database>;
  readonly #invocationId: number;
  /** workflow_step ids of the top-level steps, by order. */
  readonly #topLevelSteps: ReadonlyMap<number, number>;
  readonly #steps = new Map<string, StepInstance>();
  /** Single (unscattered) jobs by step path; a scatter's live in its step's `planned`. */
  readonly #singleJobs = new Map<string, number>();
  readonly #writer: JobWriter;
  /** False for a run's first attempt: no step or job was recorded before, so nothing is looked up. */
  readonly #resuming: boolean;
  /** Resume: the earlier attempt's jobs of one collection chunk, read once for the elements in it. */
  #resumeChunk: { key: string; from: number; rows: Map<number, ResumedJob> } | undefined;
  #nestedWorkflow: { id: number; next: number } | undefined;

  constructor(db: Kysely<Database>, invocationId: number, topLevelSteps: ReadonlyMap<number, number>, resuming: boolean) {
    this.#db = db;
    this.#invocationId = invocationId;
    this.#topLevelSteps = topLevelSteps;
    this.#resuming = resuming;
    this.#writer = new JobWriter(db);
  }

  async stepStarted(step: StepInfo): Promise<void> {
    await this.#stepInstance(step.path, step);
  }

  /**
   * Writes every element's job QUEUED, 1,000 per transaction. Resolves once the first batch is
   * in; the rest are written while the first jobs run (jobCreated waits for its own batch).
   */
  async scatterSized(path: StepPath, elements: number): Promise<void> {
    const step = await this.#stepInstance(path);
    if (step.planned !== undefined) return;
    const collectionId = step.collectionId ?? (await this.#db.transaction().execute((trx) => insertCollection(trx, step.id, now())));
    step.collectionId = collectionId;
    const ids: number[] = new Array<number>(elements);
    if (this.#resuming) {
      for (let from = 0; from < elements; from += PLAN_BATCH) {
        for (const row of await listCollectionJobs(this.#db, collectionId, from, from + PLAN_BATCH)) ids[row.order_index] = Number(row.job_id);
      }
    }
    const collection = { stepId: step.id, collectionId, invocationId: this.#invocationId, sortKey: step.sortKey };
    const planned: PlannedJobs = { ids, batches: [], stopped: false };
    let previous = Promise.resolve();
    for (let from = 0; from < elements; from += PLAN_BATCH) {
      const missing: number[] = [];
      for (let e = from; e < Math.min(from + PLAN_BATCH, elements); e++) if (ids[e] === undefined) missing.push(e);
      previous = previous.then(async () => {
        if (missing.length === 0 || planned.stopped) return;
        const written = await this.#db.transaction().execute((trx) => planCollectionJobs(trx, collection, missing, now()));
        missing.forEach((e, i) => (ids[e] = written[i]));
      });
      planned.batches.push(previous);
    }
    // A failed batch fails the jobs that wait for it; nobody else waits on the chain.
    previous.catch(() => undefined);
    step.planned = planned;
    await planned.batches[0];
  }

  /**
   * Planning stops (a cancel of a 100,000-element scatter does not wait for the rest to be
   * written); what was planned of [from, to) is marked CANCELED, 1,000 jobs per statement.
   */
  async elementsNotRun(path: StepPath, from: number, to: number): Promise<void> {
    const step = await this.#stepInstance(path);
    if (step.collectionId === null || step.planned === undefined) return;
    step.planned.stopped = true;
    await Promise.allSettled(step.planned.batches);
    for (let start = from; start < to; start += PLAN_BATCH) {
      await cancelPlannedJobs(this.#db, step.collectionId, start, Math.min(start + PLAN_BATCH, to), now());
    }
  }

  async jobCreated(path: StepPath, element: number | undefined, job: JobRecord): Promise<void> {
    const jobId = await this.#jobId(path, element);
    const record = { argv: JSON.stringify(job.argv), workDir: job.workDir, stdoutPath: job.stdoutPath, stderrPath: job.stderrPath };
    if (jobId === undefined) {
      await this.#createSingleJob(path, 'queued', record);
      return;
    }
    if (this.#resuming) await markJobRerun(this.#db, jobId);
    await this.#writer.write({ jobId, state: 'queued', ...record });
  }

  async jobStarted(path: StepPath, element: number | undefined, startedAt: Date): Promise<void> {
    const jobId = await this.#jobId(path, element);
    if (jobId !== undefined) await this.#writer.write({ jobId, state: 'running', startTime: startedAt.toISOString() });
  }

  async jobEnded(path: StepPath, element: number | undefined, end: JobEnd, endedAt: Date): Promise<void> {
    const jobId = (await this.#jobId(path, element)) ?? (await this.#createSingleJob(path, JOB_STATES[end.state]));
    const usage = 'usage' in end ? end.usage : undefined;
    await this.#writer.write({
      jobId,
      state: JOB_STATES[end.state],
      exitCode: 'exitCode' in end ? end.exitCode : undefined,
      outputs: end.state === 'ok' ? stringifyJson(end.outputs) : undefined,
      message: end.state === 'failed' ? end.message : undefined,
      endTime: endedAt.toISOString(),
      cpuSeconds: usage?.cpuSeconds,
      maxRssBytes: usage?.maxRssBytes,
      stderrTail: end.state === 'failed' ? await readStderrTail(this.#db, this.#invocationId, jobId) : undefined,
    });
  }

  async jobSubmitted(path: StepPath, element: number | undefined, externalId: string): Promise<void> {
    const jobId = await this.#jobId(path, element);
    if (jobId !== undefined) await this.#writer.write({ jobId, executorJobId: externalId });
  }

  async findExternalJobId(path: StepPath, element: number | undefined): Promise<string | undefined> {
    const job = await this.#earlierAttempt(path, element);
    // 'canceled' too: a server shutdown reports its detached jobs canceled and leaves them running.
    return job?.executorJobId != null && ['queued', 'running', 'canceled'].includes(job.state) ? job.executorJobId : undefined;
  }

  async scatterOutputs(path: StepPath, from: number, to: number): Promise<(CwlObject | undefined)[]> {
    const step = await this.#stepInstance(path);
    const outputs = new Array<CwlObject | undefined>(to - from);
    if (step.collectionId === null) return outputs;
    for (const row of await listCollectionJobs(this.#db, step.collectionId, from, to)) {
      if (row.state === 'ok' && row.outputs !== null) outputs[row.order_index - from] = parseJson(row.outputs) as CwlObject;
    }
    return outputs;
  }

  async findCompletedJob(path: StepPath, element: number | undefined): Promise<CwlObject | undefined> {
    const job = await this.#earlierAttempt(path, element);
    return job?.state === 'ok' && job.outputs !== null ? (parseJson(job.outputs) as CwlObject) : undefined;
  }

  /**
   * What an earlier attempt of the run left of a job. A scatter's elements are read a chunk of
   * 1,000 at a time, as the engine goes through them in order: one query per chunk, not per job.
   */
  async #earlierAttempt(path: StepPath, element: number | undefined): Promise<ResumedJob | undefined> {
    if (!this.#resuming) return undefined;
    if (element === undefined) {
      const task = await findTask(this.#db, this.#invocationId, formatStepPath(path), undefined);
      if (task?.job_id == null) return undefined;
      const job = await findJob(this.#db, task.job_id);
      return job === undefined ? undefined : { state: job.state, outputs: job.outputs, executorJobId: job.executor_job_id };
    }
    const step = await this.#stepInstance(path);
    if (step.collectionId === null) return undefined;
    const key = formatStepPath(path);
    const from = element - (element % PLAN_BATCH);
    if (this.#resumeChunk?.key !== key || this.#resumeChunk.from !== from) {
      const rows = await listCollectionJobs(this.#db, step.collectionId, from, from + PLAN_BATCH);
      this.#resumeChunk = {
        key,
        from,
        rows: new Map(rows.map((r) => [r.order_index, { state: r.state, outputs: r.outputs, executorJobId: r.executor_job_id }])),
      };
    }
    return this.#resumeChunk.rows.get(element);
  }

  /** The job row of a planned element or of a step's single job; undefined: a single job not yet written. */
  async #jobId(path: StepPath, element: number | undefined): Promise<number | undefined> {
    if (element === undefined) return this.#singleJobs.get(formatStepPath(path));
    const step = await this.#stepInstance(path);
    const planned = step.planned;
    if (planned === undefined) throw new Error(`job ${formatStepPath(path)}.${element} reported before its scatter was sized`);
    await planned.batches[Math.floor(element / PLAN_BATCH)];
    return planned.ids[element];
  }

  async #createSingleJob(path: StepPath, state: JobState, record?: { argv: string; workDir: string; stdoutPath: string; stderrPath: string }): Promise<number> {
    const step = await this.#stepInstance(path);
    const time = now();
    const jobId = await this.#db.transaction().execute(async (trx) => {
      const [id] = await insertJobs(trx, [
        {
          state,
          argv: record?.argv ?? '[]',
          exit_code: null,
          work_dir: record?.workDir ?? null,
          stdout_path: record?.stdoutPath ?? null,
          stderr_path: record?.stderrPath ?? null,
          outputs: null,
          message: null,
          create_time: time,
          start_time: null,
          end_time: null,
        },
      ]);
      await attachSingleJob(trx, step.id, id, time);
      return id;
    });
    this.#singleJobs.set(formatStepPath(path), jobId);
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

interface ResumedJob {
  readonly state: JobState;
  readonly outputs: string | null;
  readonly executorJobId: string | null;
}

function now(): string {
  return new Date().toISOString();
}
