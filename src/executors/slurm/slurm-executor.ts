/**
 * Runs each job as a Slurm batch job. Model:
 *
 *   submit ─ waiting, grouped by sbatch arguments ─ sbatch --parsable (a few calls at once):
 *              one waiting job of its group → a plain job, tracked by its id `123`
 *              more → one job array of up to maxArraySize of them, each element tracked by `123_<i>`
 *   every poll interval: one scancel for every stop requested since the last poll,
 *                        one squeue for every job of this user,
 *                        then per tracked job: still active → note its start, check its time
 *                        limit; ended → its status file (batch-script.ts) gives the result
 *
 * So the controller sees a constant number of calls per interval whatever the number of jobs,
 * and a scatter's jobs, which wait together with the same resources, cost one sbatch per
 * array instead of one each. An array element is a job of its own for everything else: its
 * status file, log, start time, time limit and scancel (`123_4`) are its own.
 * Slurm's own --time only has minute granularity and backs ours up; the exact limit is
 * enforced here from the start time squeue reports, by scancel. A job's result is reported
 * only once Slurm no longer lists it as active, so nothing of it is left when the handle
 * resolves. Jobs outlive the server: `detach` leaves them to the cluster and `attach` (by the
 * id `onSubmitted` gave out) follows them again after a restart.
 *
 * With a wrapper the script starts the wrapped command (the sandbox, a container) instead of
 * the job's own, as the local executor spawns it; the wrapper's stop() goes with a stop's
 * scancel, its usage() and cleanup() come once the job has ended. A job left to the cluster
 * (detach) is not cleaned up: the next server attaches to it.
 */
import { mkdir, mkdtemp, readFile, readlink, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandWrapper, Executor, JobHandle, JobOutcome, JobResult, JobSpec, JobUsage, WrappedCommand } from '../executor.js';
import { ended } from '../job-result.js';
import { errorMessage } from '../../errors.js';
import { arrayScript, batchScript, FILE_SUFFIXES, measuredSpec, STATUS_SUFFIX, unscriptable } from './batch-script.js';
import { DEFAULT_COMMANDS, hasStarted, isActive, SLURM_JOB_ID, SlurmCommands, type SlurmCommandPaths, type SlurmJobState } from './slurm-commands.js';

export interface SlurmExecutorOptions {
  /**
   * Directory where batch scripts write their status files and Slurm its own job logs; must
   * be on a file system the compute nodes share with the server, like the run directories.
   */
  readonly stateDir: string;
  readonly partition?: string;
  readonly account?: string;
  /** Further sbatch arguments, after ours (so they may override them). */
  readonly sbatchArgs?: readonly string[];
  /** Time between two polls (one squeue each); defaults to 2000 ms. */
  readonly pollIntervalMs?: number;
  /** Most sbatch calls running at once (each for one job or one array); defaults to 4. */
  readonly maxSubmitting?: number;
  /**
   * Most jobs of this executor in Slurm at once (queued or running), array elements counted
   * one by one; more wait here, so a large scatter stays within the cluster's MaxJobCount and
   * fair share. Defaults to 1000. It bounds an array's size too.
   */
  readonly maxJobs?: number;
  /**
   * Most jobs in one job array; defaults to 1000, indexes 0…999, below Slurm's default
   * MaxArraySize (1001). 1: every job a plain batch job (a cluster without arrays). `check`
   * lowers it to the cluster's MaxArraySize.
   */
  readonly maxArraySize?: number;
  readonly commands?: SlurmCommandPaths;
  /**
   * Confines each job (a sandbox, a container) inside its Slurm job; it must prepare nothing
   * on the server's host that the job needs on its node (`NodeWrapper.forBatchJobs`). Absent:
   * the job's argv as is.
   */
  readonly wrapper?: CommandWrapper;
}

const DEFAULT_POLL_MS = 2000;
const DEFAULT_MAX_SUBMITTING = 4;
const DEFAULT_MAX_JOBS = 1000;
/**
 * Polls in a row that may find an ended job without its status file before the job counts as
 * ended without a result: the file may take a moment to show up on a network file system.
 */
const STATUS_GRACE_POLLS = 5;
/** Longest job name passed to Slurm (the end of the id, which names the run and the task). */
const MAX_NAME = 128;
const DEFAULT_MAX_ARRAY = 1000;
/** Under the state directory: per array a directory of element scripts, and a link to it named by the array id. */
const ARRAYS_DIR = 'arrays';

type StopReason = 'canceled' | 'timed-out';

interface Job {
  readonly spec?: JobSpec;
  /** Jobs with the same key have the same sbatch arguments and may go in one array. */
  readonly key: string;
  readonly signal: AbortSignal;
  readonly onStart: ((startedAt: Date) => void) | undefined;
  readonly onSubmitted: ((externalId: string) => void) | undefined;
  readonly resolve: (result: JobResult) => void;
  readonly result: Promise<JobResult>;
  readonly onAbort: () => void;
  state: 'waiting' | 'submitting' | 'tracked' | 'done';
  slurmId?: string;
  /** What the wrapper made of the spec; absent for an attached job (its server wrapped it). */
  wrapped?: WrappedCommand;
  startedAt?: Date;
  stopReason?: StopReason;
  /** Polls since the job was last seen active without a status file being found. */
  misses: number;
}

interface AttachRequest {
  readonly signal: AbortSignal;
  readonly onStart: ((startedAt: Date) => void) | undefined;
  readonly resolve: (handle: JobHandle | undefined) => void;
}

function jobName(id: string): string {
  return id.replace(/[^A-Za-z0-9._:/+-]/g, '_').slice(-MAX_NAME);
}

/** An array is named after its jobs' common directory (the run's); each element's script names its job. */
function arrayName(spec: JobSpec): string {
  return jobName(path.dirname(spec.id));
}

/** The outcome Slurm's final state implies when the script left no status (it never ran, or was killed). */
function outcomeOfState(id: string, state: string | undefined): JobOutcome {
  switch (state) {
    case 'TIMEOUT':
    case 'DEADLINE':
      return { kind: 'timed-out' };
    case 'CANCELLED':
      return { kind: 'canceled' };
    default:
      return {
        kind: 'failed-to-start',
        message: `Slurm job ${id} ended ${state === undefined ? 'out of sight of squeue' : state} without reporting an exit status`,
      };
  }
}

interface Status {
  readonly outcome: JobOutcome;
  readonly startedAt?: Date;
  readonly usage?: JobUsage;
}

function parseStatus(text: string): Status | undefined {
  const exited = /^exited (\d+) (\d+)(?: (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+))?/.exec(text);
  if (exited !== null) {
    const [, code, start, user, system, maxRssKiB] = exited;
    const status: Status = { outcome: { kind: 'exited', exitCode: Number(code) }, startedAt: new Date(Number(start)) };
    return maxRssKiB === undefined ? status : { ...status, usage: { cpuSeconds: Number(user) + Number(system), maxRssBytes: Number(maxRssKiB) * 1024 } };
  }
  const failed = /^failed-to-start \d+ ([\s\S]*)$/.exec(text);
  if (failed !== null) return { outcome: { kind: 'failed-to-start', message: failed[1].trim() } };
  return undefined;
}

export class SlurmExecutor implements Executor {
  readonly #stateDir: string;
  readonly #baseArgs: readonly string[];
  readonly #extraArgs: readonly string[];
  readonly #pollMs: number;
  readonly #maxSubmitting: number;
  readonly #maxJobs: number;
  /** Lowered to the cluster's MaxArraySize when the controller tells it (`#fitArraysToCluster`). */
  #maxArraySize: number;
  readonly #commands: SlurmCommands;
  readonly #wrapper: CommandWrapper | undefined;
  /**
   * Jobs waiting for an sbatch slot by group key, groups and jobs in arrival order (Sets: a
   * cancel removes one in O(1)); an emptied group is deleted, so the oldest comes first.
   */
  readonly #waiting = new Map<string, Set<Job>>();
  #pumpScheduled = false;
  /** sbatch calls under way. */
  #submitting = 0;
  /** Jobs whose sbatch call is under way. */
  readonly #inSbatch = new Set<Job>();
  readonly #tracked = new Map<string, Job>();
  readonly #attaching = new Map<string, AttachRequest[]>();
  readonly #toCancel = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #stateDirReady: Promise<unknown> | undefined;
  #closed = false;
  #detached = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: SlurmExecutorOptions) {
    const pollMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    const maxSubmitting = options.maxSubmitting ?? DEFAULT_MAX_SUBMITTING;
    const maxJobs = options.maxJobs ?? DEFAULT_MAX_JOBS;
    const maxArraySize = options.maxArraySize ?? DEFAULT_MAX_ARRAY;
    if (!(pollMs > 0) || ![maxSubmitting, maxJobs, maxArraySize].every((n) => Number.isInteger(n) && n >= 1)) {
      throw new RangeError('pollIntervalMs must be positive, maxSubmitting, maxJobs and maxArraySize integers >= 1');
    }
    this.#stateDir = path.resolve(options.stateDir);
    this.#baseArgs = [
      ...(options.partition === undefined ? [] : [`--partition=${options.partition}`]),
      ...(options.account === undefined ? [] : [`--account=${options.account}`]),
    ];
    this.#extraArgs = options.sbatchArgs ?? [];
    this.#pollMs = pollMs;
    this.#maxSubmitting = maxSubmitting;
    this.#maxJobs = maxJobs;
    this.#maxArraySize = maxArraySize;
    this.#commands = new SlurmCommands(options.commands ?? DEFAULT_COMMANDS);
    this.#wrapper = options.wrapper;
  }

  get capacity(): number {
    return this.#maxJobs;
  }

  /**
   * Checks once at start-up that the Slurm commands run, rejecting saying what to install, and
   * keeps arrays within the cluster's MaxArraySize (sbatch refuses a larger one).
   */
  async check(): Promise<void> {
    await this.#commands.check();
    await this.#fitArraysToCluster();
  }

  /** Lowers maxArraySize to the cluster's MaxArraySize; resolves to that, when the controller tells it. */
  async #fitArraysToCluster(): Promise<number | undefined> {
    const clusterMax = await this.#commands.maxArraySize();
    if (clusterMax !== undefined) this.#maxArraySize = Math.max(1, Math.min(this.#maxArraySize, clusterMax));
    return clusterMax;
  }

  submit(
    spec: JobSpec,
    signal: AbortSignal,
    onStart?: (startedAt: Date) => void,
    onSubmitted?: (externalId: string) => void,
  ): JobHandle {
    if (this.#closed) return { result: Promise.resolve(ended({ kind: 'failed-to-start', message: `executor is shut down; job ${spec.id} was not started` })) };
    if (signal.aborted) return { result: Promise.resolve(ended({ kind: 'canceled' })) };
    const invalid = spec.argv[0] === undefined || spec.argv[0] === '' ? `job ${spec.id} has an empty command line` : unscriptable(spec);
    if (invalid !== undefined) return { result: Promise.resolve(ended({ kind: 'failed-to-start', message: invalid })) };
    const job = this.#newJob(spec, signal, onStart, onSubmitted, 'waiting');
    const group = this.#waiting.get(job.key) ?? new Set<Job>();
    this.#waiting.set(job.key, group.add(job));
    // After the current tick, so that the jobs a scatter submits together go together.
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      setImmediate(() => {
        this.#pumpScheduled = false;
        this.#pumpSubmissions();
      });
    }
    return { result: job.result };
  }

  attach(externalId: string, signal: AbortSignal, onStart?: (startedAt: Date) => void): Promise<JobHandle | undefined> {
    if (this.#closed || signal.aborted || !SLURM_JOB_ID.test(externalId)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const requests = this.#attaching.get(externalId) ?? [];
      requests.push({ signal, onStart, resolve });
      this.#attaching.set(externalId, requests);
      this.#schedulePoll();
    });
  }

  detach(): void {
    this.#detached = true;
    this.#dropWaiting();
  }

  async cancelExternal(externalIds: readonly string[]): Promise<void> {
    const ids = externalIds.filter((id) => SLURM_JOB_ID.test(id));
    await this.#commands.cancel(ids);
    await Promise.all(ids.map((id) => this.#forget(id)));
  }

  shutdown(): Promise<void> {
    if (this.#shutdown === undefined) {
      this.#closed = true;
      this.#dropWaiting();
      for (const requests of this.#attaching.values()) for (const request of requests) request.resolve(undefined);
      this.#attaching.clear();
      const open = [...this.#tracked.values(), ...this.#inSbatch];
      for (const job of open) {
        if (job.state === 'submitting') {
          // #sbatch stops it (or leaves it, detached) once sbatch has answered.
          job.stopReason ??= 'canceled';
        } else if (this.#detached) {
          this.#tracked.delete(job.slurmId ?? '');
          this.#finish(job, ended({ kind: 'canceled' }, job.startedAt));
        } else {
          this.#requestStop(job, 'canceled');
        }
      }
      this.#shutdown = Promise.all(open.map((job) => job.result)).then(() => {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      });
    }
    return this.#shutdown;
  }

  #dropWaiting(): void {
    for (const group of this.#waiting.values()) for (const job of group) this.#finish(job, ended({ kind: 'canceled' }));
    this.#waiting.clear();
  }

  #newJob(
    spec: JobSpec | undefined,
    signal: AbortSignal,
    onStart: ((startedAt: Date) => void) | undefined,
    onSubmitted: ((externalId: string) => void) | undefined,
    state: Job['state'],
  ): Job {
    let resolve!: (result: JobResult) => void;
    const result = new Promise<JobResult>((r) => {
      resolve = r;
    });
    const key = spec === undefined ? '' : this.#sbatchArgs(spec, arrayName(spec)).join('\0');
    const job: Job = { spec, key, signal, onStart, onSubmitted, resolve, result, onAbort: () => this.#abort(job), state, misses: 0 };
    signal.addEventListener('abort', job.onAbort, { once: true });
    return job;
  }

  #finish(job: Job, result: JobResult): void {
    if (job.state === 'done') return;
    job.state = 'done';
    job.signal.removeEventListener('abort', job.onAbort);
    job.resolve(result);
  }

  #abort(job: Job): void {
    switch (job.state) {
      case 'waiting':
        this.#unqueue(job);
        this.#finish(job, ended({ kind: 'canceled' }));
        return;
      case 'submitting':
        // #submitted decides once sbatch has answered.
        job.stopReason ??= 'canceled';
        return;
      case 'tracked':
        if (this.#detached) {
          // Left running for the next server, which attaches to it.
          this.#tracked.delete(job.slurmId ?? '');
          this.#finish(job, ended({ kind: 'canceled' }, job.startedAt));
        } else {
          this.#requestStop(job, 'canceled');
        }
        return;
      case 'done':
        return;
    }
  }

  #requestStop(job: Job, reason: StopReason): void {
    // Beside the scancel: a container on the server's own host would outlive its killed client.
    void job.wrapped?.stop?.().catch(() => undefined);
    job.stopReason ??= reason;
    if (job.slurmId !== undefined) this.#toCancel.add(job.slurmId);
    this.#schedulePoll();
  }

  #unqueue(job: Job): void {
    const group = this.#waiting.get(job.key);
    group?.delete(job);
    if (group?.size === 0) this.#waiting.delete(job.key);
  }

  #pumpSubmissions(): void {
    while (this.#submitting < this.#maxSubmitting && this.#waiting.size > 0) {
      const room = Math.min(this.#maxArraySize, this.#maxJobs - this.#inSbatch.size - this.#tracked.size);
      if (room <= 0) return;
      const group = this.#waiting.values().next().value as Set<Job>;
      const batch: Job[] = [];
      for (const job of group) {
        if (batch.length === room) break;
        batch.push(job);
      }
      for (const job of batch) {
        this.#unqueue(job);
        job.state = 'submitting';
        this.#inSbatch.add(job);
      }
      this.#submitting++;
      void (batch.length === 1 ? this.#submitOne(batch[0]) : this.#submitArray(batch)).finally(() => {
        for (const job of batch) this.#inSbatch.delete(job);
        this.#submitting--;
        this.#pumpSubmissions();
      });
    }
  }

  async #submitOne(job: Job): Promise<void> {
    const spec = job.spec as JobSpec;
    let id: string;
    try {
      const script = await this.#prepare(job, spec);
      id = await this.#commands.submit(script, [...this.#sbatchArgs(spec, jobName(spec.id)), `--output=${path.join(this.#stateDir, '%j.log')}`]);
    } catch (err) {
      await this.#notSubmitted(job, err);
      return;
    }
    this.#submitted(job, id);
  }

  /**
   * One sbatch for all the jobs: each element's script goes to `<i>.sh` in a new directory of
   * the array, which a link named by the array id finds again for `#forget` (after a restart too).
   */
  async #submitArray(jobs: readonly Job[]): Promise<void> {
    const prepared = await Promise.all(
      jobs.map(async (job) => {
        try {
          return { job, script: await this.#prepare(job, job.spec as JobSpec) };
        } catch (err) {
          await this.#notSubmitted(job, err);
          return undefined;
        }
      }),
    );
    const elements = prepared.filter((element) => element !== undefined);
    const first = elements[0]?.job.spec;
    if (first === undefined) return;
    const arrays = path.join(this.#stateDir, ARRAYS_DIR);
    let dir: string | undefined;
    let arrayId: string;
    try {
      await mkdir(arrays, { recursive: true });
      dir = await mkdtemp(path.join(arrays, 'a-'));
      const scriptDir = dir;
      await Promise.all(elements.map(({ script }, i) => writeFile(path.join(scriptDir, `${i}.sh`), script, { flag: 'wx', mode: 0o600 })));
      arrayId = await this.#commands.submit(arrayScript(dir, `array of ${elements.length} jobs in ${path.dirname(first.id)}`), [
        ...this.#sbatchArgs(first, arrayName(first)),
        `--output=${path.join(this.#stateDir, '%A_%a.log')}`,
        `--array=0-${elements.length - 1}`,
      ]);
    } catch (err) {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      const cause = await this.#arrayRefusal(err, elements.length);
      await Promise.all(elements.map(({ job }) => this.#notSubmitted(job, cause)));
      return;
    }
    // A link left by an earlier array with the same id (a controller reset) is replaced.
    const link = path.join(arrays, arrayId);
    await rm(link, { force: true })
      .then(() => symlink(path.basename(dir), link))
      .catch(() => undefined);
    elements.forEach(({ job }, i) => this.#submitted(job, `${arrayId}_${i}`));
  }

  /**
   * sbatch refuses an array above the cluster's MaxArraySize only as an "Invalid job array
   * specification"; when that was the reason (the limit was lowered after `check`, or `check`
   * was not called), the error says so, and later arrays keep within the limit.
   */
  async #arrayRefusal(err: unknown, size: number): Promise<unknown> {
    if (!/invalid job array specification/i.test(errorMessage(err))) return err;
    const clusterMax = await this.#fitArraysToCluster();
    if (clusterMax === undefined || clusterMax >= size) return err;
    return new Error(
      `${errorMessage(err)}: an array of ${size} jobs is more than the cluster's MaxArraySize of ${clusterMax} allows (WES_SLURM_MAX_ARRAY_SIZE sets the most jobs per array; later arrays keep within it)`,
    );
  }

  /** The job's batch script, wrapped as the wrapper says; rejects when it cannot be written. */
  async #prepare(job: Job, spec: JobSpec): Promise<string> {
    this.#stateDirReady ??= mkdir(this.#stateDir, { recursive: true });
    await this.#stateDirReady;
    const containerized = spec.confinement?.image !== undefined;
    // Measured inside the confinement; a container's usage is the wrapper's usage() to tell.
    const start = containerized ? spec : measuredSpec(spec);
    job.wrapped = await this.#wrapper?.wrap(start);
    const command = job.wrapped ?? start;
    const invalid = unscriptable(spec, command);
    if (invalid !== undefined) throw new Error(invalid);
    return batchScript(spec, this.#stateDir, { command, containerized });
  }

  async #notSubmitted(job: Job, err: unknown): Promise<void> {
    await this.#cleanUp(job);
    const message = `cannot start ${job.spec?.argv[0] ?? ''}: ${errorMessage(err)}`;
    this.#finish(job, ended(job.stopReason !== undefined ? { kind: 'canceled' } : { kind: 'failed-to-start', message }));
  }

  #submitted(job: Job, id: string): void {
    job.slurmId = id;
    try {
      job.onSubmitted?.(id);
    } catch {
      // A throwing callback is the caller's bug; the job must still be tracked to its end.
    }
    if (this.#detached && job.stopReason !== undefined) {
      this.#finish(job, ended({ kind: 'canceled' }));
      return;
    }
    job.state = 'tracked';
    this.#tracked.set(id, job);
    if (job.stopReason !== undefined || this.#closed) this.#requestStop(job, 'canceled');
    this.#schedulePoll();
  }

  /** sbatch's arguments but for --output and --array: the same for jobs that may share an array. */
  #sbatchArgs(spec: JobSpec, name: string): string[] {
    const args = [
      `--job-name=${name}`,
      `--chdir=${this.#stateDir}`,
      // Nothing of the server's environment reaches the job; the script sets the job's own.
      '--export=NONE',
      '--nodes=1',
      '--ntasks=1',
      `--cpus-per-task=${Math.max(1, Math.ceil(spec.cores ?? 1))}`,
    ];
    if (spec.ramMiB !== undefined && spec.ramMiB > 0) args.push(`--mem=${Math.ceil(spec.ramMiB)}M`);
    const seconds = spec.timeLimitSeconds;
    // Slurm counts minutes; one more than needed, so that our exact limit acts first.
    if (seconds !== undefined && seconds > 0) args.push(`--time=${Math.ceil(seconds / 60) + 1}`);
    return [...args, ...this.#baseArgs, ...this.#extraArgs];
  }

  #schedulePoll(): void {
    if (this.#timer !== undefined || this.#polling) return;
    if (this.#tracked.size === 0 && this.#attaching.size === 0 && this.#toCancel.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, this.#pollMs);
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      let states: Map<string, SlurmJobState> | undefined;
      try {
        states = await this.#commands.states();
      } catch {
        // The controller may be restarting; jobs keep their state in Slurm meanwhile.
      }
      if (states !== undefined) {
        const known = states;
        await Promise.all([...this.#tracked.values()].map((job) => this.#update(job, known.get(job.slurmId ?? ''))));
        await Promise.all([...this.#attaching.keys()].map((id) => this.#answerAttach(id, known.get(id))));
        // Ended jobs made room.
        this.#pumpSubmissions();
      }
      // Last, so that time limits found just now are enforced in this same poll.
      if (this.#toCancel.size > 0) {
        const ids = [...this.#toCancel];
        this.#toCancel.clear();
        await this.#commands.cancel(ids).catch(() => ids.forEach((id) => this.#toCancel.add(id)));
      }
    } finally {
      this.#polling = false;
      this.#schedulePoll();
    }
  }

  async #update(job: Job, slurm: SlurmJobState | undefined): Promise<void> {
    const id = job.slurmId ?? '';
    if (slurm !== undefined && isActive(slurm.state)) {
      job.misses = 0;
      if (hasStarted(slurm.state)) this.#noteStart(job, slurm.startTime ?? new Date());
      const limit = job.spec?.timeLimitSeconds;
      if (job.startedAt !== undefined && limit !== undefined && limit > 0 && Date.now() >= job.startedAt.getTime() + limit * 1000) {
        this.#requestStop(job, 'timed-out');
      }
      return;
    }
    const status = await this.#readStatus(id);
    if (status === undefined && job.stopReason === undefined && ++job.misses < STATUS_GRACE_POLLS) return;
    this.#tracked.delete(id);
    if (status?.startedAt !== undefined) this.#noteStart(job, status.startedAt);
    const outcome = job.stopReason !== undefined ? { kind: job.stopReason } : status?.outcome ?? outcomeOfState(id, slurm?.state);
    await this.#forget(id);
    const usage = status?.usage ?? (await job.wrapped?.usage?.().catch(() => undefined));
    await this.#cleanUp(job);
    this.#finish(job, ended(outcome, outcome.kind === 'failed-to-start' ? undefined : job.startedAt, usage));
  }

  /** Once the job is over (never for one left to the cluster, which the next server attaches to). */
  async #cleanUp(job: Job): Promise<void> {
    await job.wrapped?.cleanup?.().catch(() => undefined);
  }

  #noteStart(job: Job, at: Date): void {
    if (job.startedAt !== undefined) return;
    job.startedAt = at;
    try {
      job.onStart?.(at);
    } catch {
      // As for onSubmitted.
    }
  }

  async #answerAttach(id: string, slurm: SlurmJobState | undefined): Promise<void> {
    const requests = this.#attaching.get(id) ?? [];
    this.#attaching.delete(id);
    const status = slurm !== undefined && isActive(slurm.state) ? undefined : await this.#readStatus(id);
    for (const request of requests) {
      if (request.signal.aborted) {
        request.resolve(undefined);
      } else if (slurm !== undefined && isActive(slurm.state)) {
        const job = this.#newJob(undefined, request.signal, request.onStart, undefined, 'tracked');
        job.slurmId = id;
        this.#tracked.set(id, job);
        if (hasStarted(slurm.state)) this.#noteStart(job, slurm.startTime ?? new Date());
        request.resolve({ result: job.result });
      } else if (status !== undefined) {
        const job = this.#newJob(undefined, request.signal, request.onStart, undefined, 'tracked');
        if (status.startedAt !== undefined) this.#noteStart(job, status.startedAt);
        this.#finish(job, ended(status.outcome, status.startedAt, status.usage));
        request.resolve({ result: job.result });
      } else {
        // Nothing of it is left (never ran, killed without a status, or long forgotten).
        request.resolve(undefined);
      }
    }
    if (status !== undefined) await this.#forget(id);
  }

  async #readStatus(id: string): Promise<Status | undefined> {
    const text = await readFile(path.join(this.#stateDir, `${id}${STATUS_SUFFIX}`), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : parseStatus(text);
  }

  /**
   * A consumed result's files go, so a Slurm job id reused later cannot find them; an array
   * element's script too, and the array's directory and link with the last one.
   */
  async #forget(id: string): Promise<void> {
    await Promise.all(
      [...FILE_SUFFIXES, '.log'].map((suffix) => `${id}${suffix}`).map((name) => rm(path.join(this.#stateDir, name), { force: true }).catch(() => undefined)),
    );
    const element = /^(\d+)_(\d+)$/.exec(id);
    if (element === null) return;
    const link = path.join(this.#stateDir, ARRAYS_DIR, element[1]);
    const target = await readlink(link).catch(() => undefined);
    if (target === undefined) return;
    const dir = path.join(this.#stateDir, ARRAYS_DIR, path.basename(target));
    await rm(path.join(dir, `${element[2]}.sh`), { force: true }).catch(() => undefined);
    // Fails while other elements' scripts are left.
    if (await rmdir(dir).then(() => true, () => false)) await rm(link, { force: true }).catch(() => undefined);
  }
}
