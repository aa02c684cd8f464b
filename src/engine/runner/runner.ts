/**
 * The driver between the store and the engine: takes a recorded run through
 * QUEUED → INITIALIZING → RUNNING → COMPLETE (or EXECUTOR_ERROR on a job failure,
 * SYSTEM_ERROR on an engine fault, CANCELED after a cancel), writing progress through
 * StoreEngineHost and a line log in the run directory. Runs left active by a stopped server
 * are resumed on start: finished jobs are reused, the rest run again.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/database.js';
import { findRunById, listActiveRuns, markRunState, setRunWorkflow } from '../../store/queries/runs.js';
import { insertWorkflow, listUnfinishedExecutorJobIds, listWorkflowSteps } from '../../store/queries/jobs.js';
import type { WorkflowInvocationRow } from '../../store/tables/invocation.table.js';
import { CancelledError, CommandFailedError } from '../../errors.js';
import type { Executor } from '../../executors/executor.js';
import type { RunLauncher, RunRequest } from '../../run-launcher.js';
import type { CwlObject } from '../cwl-value.js';
import { describeTopLevelSteps, executeProcess, loadProcess, prepareInputs, type LoadedProcess } from '../index.js';
import { StoreEngineHost } from './store-host.js';
import { RUN_LAYOUT } from '../../run-layout.js';


export interface RunnerOptions {
  readonly db: Kysely<Database>;
  readonly executor: Executor;
  /** URL prefixes a workflow may be loaded from besides the run's attachments. */
  readonly allowedUrlPrefixes: readonly string[];
}

interface ActiveRun {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

export class Runner implements RunLauncher {
  readonly #db: Kysely<Database>;
  readonly #executor: Executor;
  readonly #allowedUrlPrefixes: readonly string[];
  readonly #active = new Map<number, ActiveRun>();
  #stopping = false;

  constructor(options: RunnerOptions) {
    this.#db = options.db;
    this.#executor = options.executor;
    this.#allowedUrlPrefixes = options.allowedUrlPrefixes;
  }

  async check(request: RunRequest, attachmentsDir: string): Promise<void> {
    const process = await this.#load(request, attachmentsDir);
    prepareInputs(process, request.workflow_params as CwlObject, attachmentsDir);
  }

  start(invocationId: number): void {
    if (this.#stopping || this.#active.has(invocationId)) return;
    const controller = new AbortController();
    const done = this.#execute(invocationId, controller.signal).finally(() => this.#active.delete(invocationId));
    this.#active.set(invocationId, { controller, done });
  }

  cancel(invocationId: number): void {
    this.#active.get(invocationId)?.controller.abort();
  }

  /** Resolves when the run's current attempt has ended (for callers that wait, e.g. tests). */
  async settled(invocationId: number): Promise<void> {
    await this.#active.get(invocationId)?.done;
  }

  /**
   * Starts every run a previous server left active. A canceling run has nothing left to stop
   * here, but its jobs in an executor that outlives the server (Slurm) are canceled there.
   */
  async resumeActiveRuns(): Promise<number> {
    const runs = await listActiveRuns(this.#db, ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING']);
    for (const run of runs) {
      if (run.state === 'CANCELING') {
        if (this.#executor.cancelExternal !== undefined) {
          await this.#executor.cancelExternal(await listUnfinishedExecutorJobIds(this.#db, run.id));
        }
        const time = new Date().toISOString();
        await markRunState(this.#db, run.id, ['CANCELING'], 'CANCELED', time, { end_time: time });
      } else {
        this.start(run.id);
      }
    }
    return runs.length;
  }

  /**
   * Stops every run's processes without recording an outcome: the runs stay active in the
   * store and are resumed by the next server.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const active = [...this.#active.values()];
    for (const run of active) run.controller.abort();
    await Promise.all(active.map((run) => run.done));
  }

  async #load(request: RunRequest, attachmentsDir: string): Promise<LoadedProcess> {
    return loadProcess({
      documentUrl: request.workflow_url,
      baseDir: attachmentsDir,
      allowUrl: (url) => this.#allowedUrlPrefixes.some((prefix) => url.href.startsWith(prefix)),
    });
  }

  async #execute(invocationId: number, signal: AbortSignal): Promise<void> {
    const run = await findRunById(this.#db, invocationId);
    if (run === undefined || !['QUEUED', 'INITIALIZING', 'RUNNING'].includes(run.state)) return;
    const log = (line: string) => fsp.appendFile(path.join(run.run_dir, RUN_LAYOUT.engineLog), `${new Date().toISOString()} ${line}\n`);
    const time = () => new Date().toISOString();
    try {
      await log(run.state === 'QUEUED' ? 'run initializing' : `run resumed from ${run.state}`);
      await markRunState(this.#db, run.id, ['QUEUED'], 'INITIALIZING', time());
      const request = JSON.parse(run.request) as RunRequest;
      const attachmentsDir = path.join(run.run_dir, RUN_LAYOUT.attachments);
      const process = await this.#load(request, attachmentsDir);
      const inputs = prepareInputs(process, request.workflow_params as CwlObject, attachmentsDir);
      const topLevelSteps = await this.#recordWorkflow(run, process);
      const started = run.start_time ?? time();
      if (!(await markRunState(this.#db, run.id, ['INITIALIZING', 'RUNNING'], 'RUNNING', time(), { start_time: started }))) {
        // Canceled while initializing: nothing has run, so the cancel is complete.
        const end = time();
        await markRunState(this.#db, run.id, ['CANCELING'], 'CANCELED', end, { end_time: end });
        return;
      }
      await log('run running');
      const host = new StoreEngineHost(this.#db, run.id, topLevelSteps, run.state !== 'QUEUED');
      const outputs = await executeProcess(process, inputs, { runDir: path.join(run.run_dir, RUN_LAYOUT.work), executor: this.#executor, host, signal });
      const end = time();
      const outputsJson = JSON.stringify(outputs);
      if (await markRunState(this.#db, run.id, ['RUNNING'], 'COMPLETE', end, { end_time: end, outputs: outputsJson })) {
        await log('run complete');
      } else {
        await markRunState(this.#db, run.id, ['CANCELING'], 'CANCELED', end, { end_time: end });
      }
    } catch (error) {
      if (this.#stopping) {
        await log('server stopping: run left to resume').catch(() => undefined);
        return;
      }
      const end = time();
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof CancelledError || signal.aborted) {
        await markRunState(this.#db, run.id, ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'], 'CANCELED', end, { end_time: end });
        await log('run canceled').catch(() => undefined);
        return;
      }
      const state = error instanceof CommandFailedError ? 'EXECUTOR_ERROR' : 'SYSTEM_ERROR';
      await markRunState(this.#db, run.id, ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'], state, end, { end_time: end, message });
      await log(`run failed (${state}): ${message}`).catch(() => undefined);
    }
  }

  /** The run's workflow and top-level steps: recorded once, read back on resume. */
  async #recordWorkflow(run: WorkflowInvocationRow, process: LoadedProcess): Promise<Map<number, number>> {
    if (run.workflow_id !== null) {
      return new Map((await listWorkflowSteps(this.#db, run.workflow_id)).map((s) => [s.order_index, s.id]));
    }
    const steps = describeTopLevelSteps(process);
    const { workflowId, stepIds } = await insertWorkflow(
      this.#db,
      JSON.parse(run.request).workflow_url as string,
      steps.map((s) => ({ order_index: s.path[0].order, type: s.kind, label: s.label ?? null, tool_id: s.toolId ?? null })),
      new Date().toISOString(),
    );
    await setRunWorkflow(this.#db, run.id, workflowId, new Date().toISOString());
    return new Map(steps.map((s, i) => [s.path[0].order, stepIds[i]]));
  }
}
