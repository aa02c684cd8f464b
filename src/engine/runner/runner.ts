/**
 * The driver between the store and the engine: takes a recorded run through
 * QUEUED → INITIALIZING → RUNNING → COMPLETE (or EXECUTOR_ERROR on a job failure,
 * SYSTEM_ERROR on an engine fault, CANCELED after a cancel), writing progress through
 * StoreEngineHost and a line log in the run directory. Runs left active by a stopped server
 * are resumed on start: finished jobs are reused, the rest run again.
 *
 * Admission: at most `maxRunsPerUser` runs of one user execute at once; the user's further runs
 * stay QUEUED, in submission order, and start as the earlier ones end. Every job of a run is
 * submitted on behalf of the run's owner, so the executor shares its slots among users.
 */
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/database.js';
import { findRunById, listActiveRuns, markRunState, setRunWorkflow } from '../../store/queries/runs.js';
import { insertWorkflow, listUnfinishedExecutorJobIds, listWorkflowSteps } from '../../store/queries/jobs.js';
import type { WorkflowInvocationRow } from '../../store/tables/invocation.table.js';
import { CancelledError, CommandFailedError, InvalidWorkflowError } from '../../errors.js';
import type { Executor } from '../../executors/executor.js';
import type { RunLauncher, RunRequest } from '../../run-launcher.js';
import type { CwlObject } from '../cwl-value.js';
import { describeTopLevelSteps, describeWorkflowGraph, executeProcess, loadProcess, prepareInputs, type LoadedProcess, type WorkflowGraph } from '../index.js';
import { StoreEngineHost } from './store-host.js';
import { publicText, RUN_LAYOUT } from '../../run-layout.js';
import { appendRunLog } from '../../run-files.js';
import { PathPolicy } from '../path-policy.js';
import { checkInputLocations, CLOSED_INPUT_POLICY, type InputPolicy } from '../input-locations.js';
import { downloadRemoteInputs } from '../remote-inputs.js';
import { parseJson, stringifyJson } from '../../exact-json.js';
import { limitHost } from './limited-host.js';
import { parseEngineParameters } from '../../engine-parameters.js';
import { RunLimitedExecutor, type JobEndedListener } from '../../executors/run-limited-executor.js';


/** Store operations one run may have in flight (limited-host.ts); the PostgreSQL pool has 10 connections. */
const STORE_OPERATIONS_PER_RUN = 4;

export interface RunnerOptions {
  readonly db: Kysely<Database>;
  readonly executor: Executor;
  /** URL prefixes a workflow may be loaded from besides the run's attachments. */
  readonly allowedUrlPrefixes: readonly string[];
  /** Most runs of one user executing at once; further runs wait QUEUED. Unlimited when absent. */
  readonly maxRunsPerUser?: number;
  /** Where input files may come from; only attachments and public http(s) URLs when absent. */
  readonly inputPolicy?: InputPolicy;
  /** The executor runs container images (DockerRequirement); absent means no engine. */
  readonly containers?: boolean;
  /** Told of every job that ended (the server's job-duration metric). */
  readonly onJobEnded?: JobEndedListener;
}

interface ActiveRun {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

export class Runner implements RunLauncher {
  readonly #db: Kysely<Database>;
  readonly #executor: Executor;
  readonly #allowedUrlPrefixes: readonly string[];
  readonly #maxRunsPerUser: number;
  readonly #inputPolicy: InputPolicy;
  readonly #containers: boolean;
  readonly #onJobEnded: JobEndedListener | undefined;
  readonly #active = new Map<number, ActiveRun>();
  /** Per user: how many runs execute, and the run ids waiting for a slot (in submission order). */
  readonly #users = new Map<number, { executing: number; readonly waiting: Set<number> }>();
  #stopping = false;

  constructor(options: RunnerOptions) {
    this.#db = options.db;
    this.#executor = options.executor;
    this.#allowedUrlPrefixes = options.allowedUrlPrefixes;
    this.#inputPolicy = options.inputPolicy ?? CLOSED_INPUT_POLICY;
    this.#maxRunsPerUser = options.maxRunsPerUser ?? Number.POSITIVE_INFINITY;
    this.#containers = options.containers === true;
    this.#onJobEnded = options.onJobEnded;
  }

  async check(request: RunRequest, attachmentsDir: string): Promise<void> {
    try {
      const process = await this.#load(request, attachmentsDir);
      await checkInputLocations(process, request.workflow_params as CwlObject, attachmentsDir, this.#inputPolicy);
      prepareInputs(process, request.workflow_params as CwlObject, attachmentsDir);
    } catch (error) {
      // The 400 names documents by their attachment path, not where the server keeps them.
      if (!(error instanceof InvalidWorkflowError)) throw error;
      const problems = error.problems.map((p) => publicText(p, path.dirname(attachmentsDir)));
      throw new InvalidWorkflowError(problems, { cause: error });
    }
  }

  async describe(request: RunRequest, attachmentsDir: string): Promise<WorkflowGraph> {
    return describeWorkflowGraph(await this.#load(request, attachmentsDir));
  }

  start(invocationId: number, userId: number): void {
    if (this.#stopping || this.#active.has(invocationId)) return;
    let user = this.#users.get(userId);
    if (user === undefined) {
      user = { executing: 0, waiting: new Set() };
      this.#users.set(userId, user);
    }
    if (user.executing >= this.#maxRunsPerUser) {
      user.waiting.add(invocationId);
      return;
    }
    user.executing++;
    const controller = new AbortController();
    const done = this.#execute(invocationId, controller.signal).finally(() => {
      this.#active.delete(invocationId);
      this.#admitNext(userId);
    });
    this.#active.set(invocationId, { controller, done });
  }

  cancel(invocationId: number): void {
    this.#active.get(invocationId)?.controller.abort();
    // A waiting run is already CANCELED in the store; it only leaves the line.
    for (const user of this.#users.values()) user.waiting.delete(invocationId);
  }

  /** One of the user's runs ended: its slot goes to the user's oldest waiting run. */
  #admitNext(userId: number): void {
    const user = this.#users.get(userId);
    if (user === undefined) return;
    user.executing--;
    const next = user.waiting.values().next();
    if (!next.done && !this.#stopping) {
      user.waiting.delete(next.value);
      this.start(next.value, userId);
    }
    if (user.executing === 0 && user.waiting.size === 0) this.#users.delete(userId);
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
        this.start(run.id, run.user_id);
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
    this.#users.clear();
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
    // The engine log is never followed through a link a job planted in its place.
    const log = (line: string) => appendRunLog(path.join(run.run_dir, RUN_LAYOUT.engineLog), `${new Date().toISOString()} ${line}\n`);
    const time = () => new Date().toISOString();
    try {
      await log(run.state === 'QUEUED' ? 'run initializing' : `run resumed from ${run.state}`);
      await markRunState(this.#db, run.id, ['QUEUED'], 'INITIALIZING', time());
      const request = parseJson(run.request) as RunRequest;
      const attachmentsDir = path.join(run.run_dir, RUN_LAYOUT.attachments);
      const process = await this.#load(request, attachmentsDir);
      const prepared = prepareInputs(process, request.workflow_params as CwlObject, attachmentsDir);
      const inputs = await downloadRemoteInputs(prepared, path.join(run.run_dir, RUN_LAYOUT.downloads), this.#inputPolicy, signal);
      const topLevelSteps = await this.#recordWorkflow(run, process);
      const started = run.start_time ?? time();
      if (!(await markRunState(this.#db, run.id, ['INITIALIZING', 'RUNNING'], 'RUNNING', time(), { start_time: started }))) {
        // Canceled while initializing: nothing has run, so the cancel is complete.
        const end = time();
        await markRunState(this.#db, run.id, ['CANCELING'], 'CANCELED', end, { end_time: end });
        return;
      }
      await log('run running');
      const settings = parseEngineParameters(request.workflow_engine_parameters);
      const host = limitHost(new StoreEngineHost(this.#db, run.id, topLevelSteps, run.state !== 'QUEUED'), STORE_OPERATIONS_PER_RUN);
      const outputs = await executeProcess(process, inputs, {
        runDir: path.join(run.run_dir, RUN_LAYOUT.work),
        logsDir: path.join(run.run_dir, RUN_LAYOUT.logs),
        policy: await PathPolicy.create(run.run_dir, this.#inputPolicy.allowedInputDirs),
        executor: new RunLimitedExecutor(this.#executor, settings, {
          owner: String(run.user_id),
          onEnded: this.#onJobEnded,
        }),
        containers: this.#containers,
        host,
        signal,
        onError: settings.onError,
      });
      const end = time();
      const outputsJson = stringifyJson(outputs);
      if (await markRunState(this.#db, run.id, ['RUNNING'], 'COMPLETE', end, { end_time: end, outputs: outputsJson, exit_code: 0 })) {
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
      const message = publicText(error instanceof Error ? error.message : String(error), run.run_dir);
      if (error instanceof CancelledError || signal.aborted) {
        await markRunState(this.#db, run.id, ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'], 'CANCELED', end, { end_time: end });
        await log('run canceled').catch(() => undefined);
        return;
      }
      const state = error instanceof CommandFailedError ? 'EXECUTOR_ERROR' : 'SYSTEM_ERROR';
      const exitCode = state === 'EXECUTOR_ERROR' ? exitCodeOf(error) : undefined;
      await markRunState(this.#db, run.id, ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'], state, end, { end_time: end, message, exit_code: exitCode });
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

/** The exit code of the job behind a failure (a JobFailedError somewhere in the cause chain), for run_log.exit_code. */
function exitCodeOf(error: unknown): number | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number') return code;
  }
  return undefined;
}
