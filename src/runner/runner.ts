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
 *
 * Leases: several servers may share the store, and a run is driven only by the server it is
 * leased to (server-lease.ts, store/queries/leases.ts). A cancel reaches the driver through
 * the store: the server that took it notifies the others (PostgreSQL NOTIFY, heard through
 * stopCanceled), and every sixth of a lease the heartbeat renews the lease, stops the leased
 * runs that went CANCELING (one query: a lost notice is late, never lost), and claims runs no
 * live server drives —
 * new ones, and those of servers that are gone — up to `maxRuns`. A lost lease stops every run
 * without recording an outcome (whoever claims them next resumes them), and outcomes are only
 * recorded while the run is still leased to this server.
 */
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { findRunById, markRunState, setRunWorkflow } from '../store/queries/runs.js';
import { claimRun, claimRuns, listLeasedRunIds, notifyRunCanceled, type ClaimedRun } from '../store/queries/leases.js';
import { insertWorkflow, listUnfinishedExecutorJobIds, listWorkflowSteps } from '../store/queries/jobs.js';
import type { WorkflowInvocationRow } from '../store/tables/invocation.table.js';
import { CancelledError, CommandFailedError, errorMessage, InvalidWorkflowError } from '../errors.js';
import type { Executor } from '../executors/executor.js';
import type { RunLauncher, RunRequest } from '../run-launcher.js';
import type { CwlObject } from '../engine/values/cwl-value.js';
import { describeTopLevelSteps, describeWorkflowGraph, executeProcess, loadProcess, prepareInputs, type LoadedProcess, type WorkflowGraph } from '../engine/index.js';
import { StoreEngineHost } from './store-host.js';
import { publicText, RUN_LAYOUT } from '../run-layout.js';
import { appendRunLog } from '../run-files.js';
import { PathPolicy } from '../engine/values/path-policy.js';
import { checkInputLocations, CLOSED_INPUT_POLICY, type InputPolicy } from '../engine/cwl/input-locations.js';
import { downloadRemoteInputs } from '../engine/cwl/remote-inputs.js';
import { parseJson } from '../exact-json.js';
import { writeRunOutputs } from '../run-outputs.js';
import { limitHost } from './limited-host.js';
import { parseEngineParameters } from '../engine-parameters.js';
import { RunLimitedExecutor, type JobEndedListener } from '../executors/run-limited-executor.js';
import type { ServerLease } from './server-lease.js';


/** Store operations one run may have in flight (limited-host.ts); the PostgreSQL pool has 10 connections. */
const STORE_OPERATIONS_PER_RUN = 4;
/** Heartbeats per lease: the lease is given up after half of it without one that succeeded. */
const HEARTBEATS_PER_LEASE = 6;
/** Runs claimed per query; a start with more to take claims again at once. */
const CLAIM_BATCH = 100;

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
  /** This server's lease: only runs leased to it are driven here. */
  readonly lease: ServerLease;
  /** Most runs held at once (executing or waiting for their user's turn); more are left to other servers. Unlimited when absent. */
  readonly maxRuns?: number;
  /**
   * Stops what servers that are gone left running (job process groups, containers); awaited
   * before runs another server drove are resumed, so no job runs beside its first attempt.
   */
  readonly reapLeftovers?: () => Promise<unknown>;
  /** Where the lease loop reports (a lost lease, a failed heartbeat); silent when absent. */
  readonly log?: (line: string) => void;
}

interface ActiveRun {
  readonly controller: AbortController;
  /** Set when the lease was lost: the run stops without recording an outcome. */
  abandoned: boolean;
  done?: Promise<void>;
}

export class Runner implements RunLauncher {
  readonly #db: Kysely<Database>;
  readonly #executor: Executor;
  readonly #allowedUrlPrefixes: readonly string[];
  readonly #maxRunsPerUser: number;
  readonly #inputPolicy: InputPolicy;
  readonly #containers: boolean;
  readonly #onJobEnded: JobEndedListener | undefined;
  readonly #lease: ServerLease;
  readonly #maxRuns: number;
  readonly #reapLeftovers: () => Promise<unknown>;
  readonly #log: (line: string) => void;
  readonly #active = new Map<number, ActiveRun>();
  /** Per user: how many runs execute, and the run ids waiting for a slot (in submission order). */
  readonly #users = new Map<number, { executing: number; readonly waiting: Set<number> }>();
  /** Runs leased here (or being claimed): executing, or waiting in their user's line. */
  readonly #held = new Set<number>();
  /** Submissions being claimed, for settled(). */
  readonly #claiming = new Map<number, Promise<void>>();
  #stopping = false;
  /** The stop of every run after the lease was lost; a new lease is taken once it has settled. */
  #abandoning: Promise<void> | undefined;
  #claims: Promise<unknown> = Promise.resolve();
  #heartbeat: NodeJS.Timeout | undefined;
  #giveUp: NodeJS.Timeout | undefined;

  constructor(options: RunnerOptions) {
    this.#db = options.db;
    this.#executor = options.executor;
    this.#allowedUrlPrefixes = options.allowedUrlPrefixes;
    this.#inputPolicy = options.inputPolicy ?? CLOSED_INPUT_POLICY;
    this.#maxRunsPerUser = options.maxRunsPerUser ?? Number.POSITIVE_INFINITY;
    this.#containers = options.containers === true;
    this.#onJobEnded = options.onJobEnded;
    this.#lease = options.lease;
    this.#maxRuns = options.maxRuns ?? Number.POSITIVE_INFINITY;
    this.#reapLeftovers = options.reapLeftovers ?? (async () => undefined);
    this.#log = options.log ?? (() => undefined);
    this.#armGiveUp();
    this.#scheduleHeartbeat();
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

  /** A submission this server received: claimed here if there is room, else left to the heartbeats. */
  start(invocationId: number, userId: number): void {
    if (this.#stopping || this.#abandoning !== undefined || this.#held.has(invocationId) || this.#held.size >= this.#maxRuns) return;
    this.#held.add(invocationId);
    const claimed = claimRun(this.#db, this.#lease.serverId, invocationId).then(
      // A lease given up meanwhile takes the run along: it is released with the old lease.
      (ok) => (ok && this.#abandoning === undefined ? this.#admit(invocationId, userId) : this.#held.delete(invocationId)),
      () => this.#held.delete(invocationId),
    );
    const settled = claimed.then(() => undefined).finally(() => this.#claiming.delete(invocationId));
    this.#claiming.set(invocationId, settled);
  }

  /** Executes a run leased here, or puts it in its user's line. */
  #admit(invocationId: number, userId: number): void {
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
    const run: ActiveRun = { controller: new AbortController(), abandoned: false };
    run.done = this.#execute(invocationId, run)
      .catch((error: unknown) => {
        // The store failed (a database restart) as the outcome was recorded: the run is still
        // active and leased here. Giving up the lease has it resumed by whoever claims it.
        this.#log(`run ${invocationId}: outcome not recorded (${errorMessage(error)})`);
        queueMicrotask(() => this.#loseLease());
      })
      .finally(() => {
        this.#active.delete(invocationId);
        this.#held.delete(invocationId);
        this.#admitNext(userId);
      });
    this.#active.set(invocationId, run);
  }

  /** A cancel this server received: stops the run if it drives it, and tells the server that does. */
  cancel(invocationId: number): void {
    this.stopCanceled(invocationId);
    notifyRunCanceled(this.#db, invocationId).catch((error: unknown) => {
      // The driver's next heartbeat finds the run CANCELING all the same.
      this.#log(`cancel notice for run ${invocationId} not sent: ${errorMessage(error)}`);
    });
  }

  /** Stops a run that went CANCELING (or a waiting one that went CANCELED) if it is held here. */
  stopCanceled(invocationId: number): void {
    this.#active.get(invocationId)?.controller.abort();
    // A waiting run is already CANCELED in the store; it only leaves the line.
    for (const user of this.#users.values()) {
      if (user.waiting.delete(invocationId)) this.#held.delete(invocationId);
    }
  }

  /** One of the user's runs ended: its slot goes to the user's oldest waiting run. */
  #admitNext(userId: number): void {
    const user = this.#users.get(userId);
    if (user === undefined) return;
    user.executing--;
    const next = user.waiting.values().next();
    if (!next.done && !this.#stopping) {
      user.waiting.delete(next.value);
      this.#admit(next.value, userId);
    }
    if (user.executing === 0 && user.waiting.size === 0) this.#users.delete(userId);
  }

  /** Resolves when the run's current attempt has ended (for callers that wait, e.g. tests). */
  async settled(invocationId: number): Promise<void> {
    await this.#claiming.get(invocationId);
    await this.#active.get(invocationId)?.done;
  }

  /**
   * Claims every run no live server drives (at start: those a previous server left active)
   * and starts them; returns how many were claimed. The heartbeats go on claiming after this.
   */
  async resumeActiveRuns(): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.#claim();
      total += claimed;
      if (claimed < CLAIM_BATCH) return total;
    }
  }

  /** One claim at a time (the start's and a heartbeat's), so that room is counted right. */
  #claim(): Promise<number> {
    const claimed = this.#claims.then(() => this.#claimBatch());
    this.#claims = claimed.catch(() => undefined);
    return claimed;
  }

  /**
   * Takes up to one batch of unleased runs, as room allows. A canceling run has nothing left
   * to stop here, but its jobs in an executor that outlives servers (Slurm) are canceled there.
   */
  async #claimBatch(): Promise<number> {
    await this.#lease.forgetGoneServers();
    const room = Math.min(CLAIM_BATCH, this.#maxRuns - this.#held.size);
    if (room <= 0 || this.#stopping) return 0;
    const claimed = await claimRuns(this.#db, this.#lease.serverId, room);
    // Given up meanwhile: the runs are released with the old lease when a new one is taken.
    if (this.#abandoning !== undefined) return 0;
    // Jobs a server that is gone left running would run on beside the runs' next attempts
    // (a QUEUED run has started none).
    if (claimed.some((run) => run.state !== 'QUEUED')) await this.#reapLeftovers();
    for (const run of claimed.sort((a, b) => a.id - b.id)) {
      this.#held.add(run.id);
      if (run.state === 'CANCELING') await this.#completeCancel(run);
      else this.#admit(run.id, run.user_id);
    }
    return claimed.length;
  }

  async #completeCancel(run: ClaimedRun): Promise<void> {
    try {
      if (this.#executor.cancelExternal !== undefined) {
        await this.#executor.cancelExternal(await listUnfinishedExecutorJobIds(this.#db, run.id));
      }
      const time = new Date().toISOString();
      await markRunState(this.#db, run.id, ['CANCELING'], 'CANCELED', time, { end_time: time }, this.#lease.serverId);
    } finally {
      this.#held.delete(run.id);
    }
  }

  /** The next beat a sixth of a lease after this one ended: a beat that fails (a database blip) leaves another before half a lease has passed. */
  #scheduleHeartbeat(): void {
    this.#heartbeat = setTimeout(() => {
      void this.#beat().finally(() => {
        if (!this.#stopping) this.#scheduleHeartbeat();
      });
    }, this.#lease.leaseMs / HEARTBEATS_PER_LEASE);
    this.#heartbeat.unref();
  }

  /** Counts the lease lost when no heartbeat has succeeded for half a lease. */
  #armGiveUp(): void {
    clearTimeout(this.#giveUp);
    this.#giveUp = setTimeout(() => this.#loseLease(), Math.max(0, this.#lease.msLeft));
    this.#giveUp.unref();
  }

  /**
   * One heartbeat: renew the lease (or take a new one after losing it), cancel the leased runs
   * that went CANCELING, claim runs. Never throws: a failure is logged and the next beat tries again.
   */
  async #beat(): Promise<void> {
    try {
      if (this.#abandoning !== undefined) {
        await this.#abandoning;
        await this.#lease.renewLost();
        this.#abandoning = undefined;
        this.#log(`new lease taken (server ${this.#lease.serverId})`);
      } else if (!(await this.#lease.renew())) {
        this.#loseLease();
        return;
      } else if (this.#abandoning !== undefined) {
        // Given up while the renewal was on its way: the next beat takes a new lease.
        return;
      }
      this.#armGiveUp();
      for (const id of await listLeasedRunIds(this.#db, this.#lease.serverId, 'CANCELING')) this.stopCanceled(id);
      await this.#claim();
    } catch (error) {
      if (!this.#stopping) this.#log(`lease heartbeat failed: ${errorMessage(error)}`);
    }
  }

  /**
   * Others may claim this server's runs from now on: each is stopped without recording an
   * outcome, to be resumed by whichever server claims it next.
   */
  #loseLease(): void {
    if (this.#stopping || this.#abandoning !== undefined) return;
    clearTimeout(this.#giveUp);
    const active = [...this.#active.values()];
    this.#log(`lease lost: stopping ${active.length} run(s) without an outcome; any server may take them over`);
    for (const run of active) {
      run.abandoned = true;
      run.controller.abort();
    }
    for (const user of this.#users.values()) {
      for (const id of user.waiting) this.#held.delete(id);
      user.waiting.clear();
    }
    this.#abandoning = Promise.all(active.map((run) => run.done)).then(() => undefined);
  }

  /**
   * Stops every run's processes without recording an outcome and ends the lease: the runs
   * stay active in the store and are claimed at once by another server or the next start.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#heartbeat);
    clearTimeout(this.#giveUp);
    this.#users.clear();
    await Promise.all(this.#claiming.values());
    const active = [...this.#active.values()];
    for (const run of active) run.controller.abort();
    await Promise.all(active.map((run) => run.done));
    await this.#lease.release().catch(() => undefined);
  }

  async #load(request: RunRequest, attachmentsDir: string): Promise<LoadedProcess> {
    return loadProcess({
      documentUrl: request.workflow_url,
      baseDir: attachmentsDir,
      allowUrl: (url) => this.#allowedUrlPrefixes.some((prefix) => url.href.startsWith(prefix)),
    });
  }

  async #execute(invocationId: number, attempt: ActiveRun): Promise<void> {
    const signal = attempt.controller.signal;
    // Every outcome is recorded only while the run is still leased to this server.
    const heldBy = this.#lease.serverId;
    const run = await findRunById(this.#db, invocationId);
    if (run === undefined || !['QUEUED', 'INITIALIZING', 'RUNNING'].includes(run.state)) return;
    // The engine log is never followed through a link a job planted in its place.
    const log = (line: string) => appendRunLog(path.join(run.run_dir, RUN_LAYOUT.engineLog), `${new Date().toISOString()} ${line}\n`);
    const time = () => new Date().toISOString();
    try {
      await log(run.state === 'QUEUED' ? 'run initializing' : `run resumed from ${run.state}`);
      await markRunState(this.#db, run.id, ['QUEUED'], 'INITIALIZING', time(), {}, heldBy);
      const request = parseJson(run.request) as RunRequest;
      const attachmentsDir = path.join(run.run_dir, RUN_LAYOUT.attachments);
      const process = await this.#load(request, attachmentsDir);
      const prepared = prepareInputs(process, request.workflow_params as CwlObject, attachmentsDir);
      const inputs = await downloadRemoteInputs(prepared, path.join(run.run_dir, RUN_LAYOUT.downloads), this.#inputPolicy, signal);
      const topLevelSteps = await this.#recordWorkflow(run, request.workflow_url, process);
      const started = run.start_time ?? time();
      if (!(await markRunState(this.#db, run.id, ['INITIALIZING', 'RUNNING'], 'RUNNING', time(), { start_time: started }, heldBy))) {
        // Canceled while initializing: nothing has run, so the cancel is complete.
        const end = time();
        await markRunState(this.#db, run.id, ['CANCELING'], 'CANCELED', end, { end_time: end }, heldBy);
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
      await writeRunOutputs(run.run_dir, outputs);
      const end = time();
      // Logged first: a client that sees COMPLETE and reads the log finds it there.
      await log('run complete');
      if (!(await markRunState(this.#db, run.id, ['RUNNING'], 'COMPLETE', end, { end_time: end, exit_code: 0 }, heldBy))) {
        if (await markRunState(this.#db, run.id, ['CANCELING'], 'CANCELED', end, { end_time: end }, heldBy)) {
          await log('run canceled: the cancel came before the completion was recorded');
        }
      }
    } catch (error) {
      if (this.#stopping || attempt.abandoned) {
        await log(attempt.abandoned ? 'lease lost: run left to the server that takes it over' : 'server stopping: run left to resume').catch(() => undefined);
        return;
      }
      const end = time();
      const message = publicText(errorMessage(error), run.run_dir);
      if (error instanceof CancelledError || signal.aborted) {
        await markRunState(this.#db, run.id, ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'], 'CANCELED', end, { end_time: end }, heldBy);
        await log('run canceled').catch(() => undefined);
        return;
      }
      const state = error instanceof CommandFailedError ? 'EXECUTOR_ERROR' : 'SYSTEM_ERROR';
      const exitCode = state === 'EXECUTOR_ERROR' ? exitCodeOf(error) : undefined;
      await markRunState(this.#db, run.id, ['QUEUED', 'INITIALIZING', 'RUNNING', 'CANCELING'], state, end, { end_time: end, message, exit_code: exitCode }, heldBy);
      await log(`run failed (${state}): ${message}`).catch(() => undefined);
    }
  }

  /** The run's workflow and top-level steps: recorded once, read back on resume. */
  async #recordWorkflow(run: WorkflowInvocationRow, workflowUrl: string, process: LoadedProcess): Promise<Map<number, number>> {
    if (run.workflow_id !== null) {
      return new Map((await listWorkflowSteps(this.#db, run.workflow_id)).map((s) => [s.order_index, s.id]));
    }
    const steps = describeTopLevelSteps(process);
    const { workflowId, stepIds } = await insertWorkflow(
      this.#db,
      workflowUrl,
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
