/**
 * Runs jobs as local child processes, each the leader of its own process group so that a
 * cancel, a time limit or shutdown reaches everything the command forked. Jobs wait for a slot:
 * at most `maxJobs` at once (`maxJobsPerOwner` of one owner) and the running jobs' cores and RAM
 * within the budget. Waiting jobs are queued per owner and owners served round-robin
 * (FairQueue), so one user's 20,000-job scatter delays another user's job by one slot, not by
 * the whole scatter; within an owner the order is strict FIFO. A job's slot is held until its
 * whole group is gone, so leftovers of a finished job never overlap the next one's reservation.
 * A job its wrapper does not measure (an unconfined one) is born in usage-only control groups
 * where the host lets the server make them, which give its CPU time and peak memory and take
 * down whatever of it left the process group.
 */
import { constants as osConstants, availableParallelism, totalmem } from 'node:os';
import { statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { CommandWrapper, Executor, JobHandle, JobResult, JobSpec, JobUsage, WrappedCommand } from '../executor.js';
import { ended } from '../job-result.js';
import { errorCode, errorMessage } from '../../errors.js';
import { terminateGroup } from './process-group.js';
import { GroupRegistry, type LiveServers } from './group-registry.js';
import { FairQueue, type QueueEntry } from './fair-queue.js';
import { Launcher, LaunchError, type StartedProcess } from './launcher.js';
import type { LaunchGroups } from './launch-protocol.js';
import { JobCgroups, USAGE_CONTROLLERS, type JobCgroup } from '../sandbox/job-cgroups.js';

export interface LocalExecutorOptions {
  /** Most jobs running at once; an integer >= 1. */
  readonly maxJobs: number;
  /** Most jobs of one owner (JobSpec.owner) running at once; defaults to maxJobs. */
  readonly maxJobsPerOwner?: number;
  /** Core budget shared by running jobs; defaults to os.availableParallelism(). */
  readonly cores?: number;
  /** RAM budget in MiB shared by running jobs; defaults to the machine's total memory. */
  readonly ramMiB?: number;
  /** Time between SIGTERM and SIGKILL when a job is stopped; defaults to 3000 ms. */
  readonly killGraceMs?: number;
  /**
   * Directory where running process groups are recorded, so that `reapOrphans()` in a later
   * process can stop jobs a crashed server left running. No record is kept when absent.
   */
  readonly stateDir?: string;
  /** Starts each job through this (a sandbox, a container); absent: the job's argv as is. */
  readonly wrapper?: CommandWrapper;
}

const DEFAULT_KILL_GRACE_MS = 3000;
// setTimeout fires at once for delays above 2^31-1 ms, so longer limits are waited in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Fractional core requests must not be refused because of floating-point rounding.
const EPSILON = 1e-9;

type StopReason = 'canceled' | 'timed-out';

interface Job {
  readonly spec: JobSpec;
  readonly signal: AbortSignal;
  readonly onStart: ((startedAt: Date) => void) | undefined;
  readonly cores: number;
  readonly ramMiB: number;
  readonly result: Promise<JobResult>;
  readonly resolve: (result: JobResult) => void;
  state: 'queued' | 'starting' | 'running' | 'done';
  /** Its place in the wait queue while queued. */
  entry?: QueueEntry<Job>;
  /** Set once by the first of cancel / time limit / shutdown; decides the outcome. */
  stopReason?: StopReason;
  /** True once the leader's exit was seen; a stop after that no longer changes the outcome. */
  exited: boolean;
  pgid?: number;
  wrapped?: WrappedCommand;
  /** Usage-only control groups, for a job whose wrapper does not measure it (unconfined jobs). */
  usageGroup?: JobCgroup;
  /** The job was born inside usageGroup, so what the group counted is all of it. */
  measured: boolean;
  /** The one terminateGroup in flight, shared by every path that wants the group dead. */
  killing?: Promise<void>;
}

function failedToStart(message: string): JobResult {
  return ended({ kind: 'failed-to-start', message });
}

/** A request outside [0, budget] or not a number falls back to the default, then is clamped. */
function reservation(requested: number | undefined, fallback: number, budget: number): number {
  const value = requested !== undefined && Number.isFinite(requested) && requested >= 0 ? requested : fallback;
  return Math.min(value, budget);
}

/** Jobs without an owner share one queue. */
function ownerOf(spec: JobSpec): string {
  return spec.owner ?? '';
}

function spawnFailureMessage(command: string, err: unknown): string {
  switch (errorCode(err)) {
    case 'ENOENT':
      return command.includes('/') ? `command not found: ${command}` : `command not found on PATH: ${command}`;
    case 'EACCES':
      return `permission denied executing ${command}`;
    default:
      return `cannot start ${command}: ${errorMessage(err)}`;
  }
}

export class LocalExecutor implements Executor {
  readonly #maxJobs: number;
  readonly #cores: number;
  readonly #ramMiB: number;
  readonly #graceMs: number;
  readonly #registry: GroupRegistry | undefined;
  readonly #wrapper: CommandWrapper | undefined;
  /** Names this executor's usage groups, so a later server on the same data directory reaps what a crash left. */
  readonly #usagePrefix: string;
  /** Found on first use; undefined where no memory and cpuacct hierarchy is writable (usage then unknown). */
  #usageGroups: Promise<JobCgroups | undefined> | undefined;
  readonly #queue: FairQueue<Job>;
  /** Processes start in a small launcher process, not on the event loop (launcher.ts). */
  readonly #launcher = new Launcher();
  /**
   * Unfinished jobs by the signal that cancels them, with the one listener each signal gets:
   * a run's 100,000 jobs share one signal, and adding a listener to an EventTarget costs time
   * linear in the listeners it has already.
   */
  readonly #bySignal = new Map<AbortSignal, { readonly jobs: Set<Job>; readonly onAbort: () => void }>();
  /** Jobs holding a slot: starting, running, or waiting for their group to disappear. */
  readonly #active = new Set<Job>();
  /** Jobs whose slot is given back while their usage is still read and their groups removed. */
  readonly #releasedEarly = new Set<Job>();
  /** Cleanups of settled jobs still under way (WrappedCommand.settled). */
  readonly #cleanups = new Set<Promise<void>>();
  #usedCores = 0;
  #usedRamMiB = 0;
  /** Set first thing in shutdown, so dropping queued jobs cannot let others start. */
  #closed = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: LocalExecutorOptions) {
    if (!Number.isInteger(options.maxJobs) || options.maxJobs < 1) {
      throw new RangeError(`maxJobs must be an integer >= 1, got ${options.maxJobs}`);
    }
    const maxJobsPerOwner = options.maxJobsPerOwner ?? options.maxJobs;
    if (!Number.isInteger(maxJobsPerOwner) || maxJobsPerOwner < 1) {
      throw new RangeError(`maxJobsPerOwner must be an integer >= 1, got ${maxJobsPerOwner}`);
    }
    const cores = options.cores ?? availableParallelism();
    const ramMiB = options.ramMiB ?? Math.floor(totalmem() / (1024 * 1024));
    const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    if (!(cores >= 0) || !(ramMiB >= 0) || !(graceMs >= 0)) {
      throw new RangeError('cores, ramMiB and killGraceMs must be non-negative numbers');
    }
    this.#maxJobs = options.maxJobs;
    this.#queue = new FairQueue(maxJobsPerOwner);
    this.#cores = cores;
    this.#ramMiB = ramMiB;
    this.#graceMs = graceMs;
    this.#registry = options.stateDir === undefined ? undefined : new GroupRegistry(options.stateDir);
    this.#wrapper = options.wrapper;
    this.#usagePrefix = `wes-usage-${createHash('sha256').update(options.stateDir ?? '').digest('hex').slice(0, 8)}`;
  }

  get capacity(): number {
    return this.#maxJobs;
  }

  /**
   * Stops the jobs that executors of this host with the same stateDir left running when their
   * process died (or, with `liveServers`, lost its lease) without shutdown(); call at start,
   * before submitting. Returns how many groups were on record.
   */
  async reapOrphans(liveServers?: LiveServers): Promise<number> {
    const reaped = (await this.#registry?.reap(this.#graceMs, liveServers)) ?? 0;
    // Whatever of those jobs escaped its process group, and the empty groups.
    await (await this.#detectUsageGroups())?.reapStale();
    return reaped;
  }

  #detectUsageGroups(): Promise<JobCgroups | undefined> {
    this.#usageGroups ??= JobCgroups.detect(this.#usagePrefix, USAGE_CONTROLLERS).then((groups) =>
      groups?.controllers.length === USAGE_CONTROLLERS.length ? groups : undefined,
    );
    return this.#usageGroups;
  }

  submit(spec: JobSpec, signal: AbortSignal, onStart?: (startedAt: Date) => void): JobHandle {
    if (this.#closed) {
      return { result: Promise.resolve(failedToStart(`executor is shut down; job ${spec.id} was not started`)) };
    }
    if (signal.aborted) {
      return { result: Promise.resolve(ended({ kind: 'canceled' })) };
    }
    let resolve!: (result: JobResult) => void;
    const result = new Promise<JobResult>((r) => {
      resolve = r;
    });
    const job: Job = {
      spec,
      signal,
      onStart,
      cores: reservation(spec.cores, 1, this.#cores),
      ramMiB: reservation(spec.ramMiB, 0, this.#ramMiB),
      result,
      resolve,
      state: 'queued',
      exited: false,
      measured: false,
    };
    this.#watch(job);
    job.entry = this.#queue.push(ownerOf(spec), job);
    this.#pump();
    return { result };
  }

  shutdown(): Promise<void> {
    if (this.#shutdown === undefined) {
      this.#closed = true;
      for (const job of this.#queue.drain()) this.#finish(job, ended({ kind: 'canceled' }));
      const active = [...this.#active, ...this.#releasedEarly];
      for (const job of active) this.#stop(job, 'canceled');
      this.#shutdown = Promise.all(active.map((job) => job.result))
        .then(() => Promise.all(this.#cleanups))
        .then(() => {
          this.#launcher.close();
          return this.#registry?.close();
        });
    }
    return this.#shutdown;
  }

  #watch(job: Job): void {
    let watched = this.#bySignal.get(job.signal);
    if (watched === undefined) {
      const jobs = new Set<Job>();
      const onAbort = (): void => {
        this.#bySignal.delete(job.signal);
        // Queued jobs first, without refilling slots in between: the next queued job of the
        // same run would only be started to be stopped.
        const all = [...jobs];
        for (const each of all) if (each.state === 'queued') this.#stop(each, 'canceled', false);
        for (const each of all) this.#stop(each, 'canceled');
        this.#pump();
      };
      watched = { jobs, onAbort };
      this.#bySignal.set(job.signal, watched);
      job.signal.addEventListener('abort', onAbort, { once: true });
    }
    watched.jobs.add(job);
  }

  #unwatch(job: Job): void {
    const watched = this.#bySignal.get(job.signal);
    if (watched === undefined) return;
    watched.jobs.delete(job);
    if (watched.jobs.size === 0) {
      this.#bySignal.delete(job.signal);
      job.signal.removeEventListener('abort', watched.onAbort);
    }
  }

  /**
   * Starts jobs in the queue's order: a job that does not fit blocks those behind it (of every
   * owner), so big jobs cannot starve.
   */
  #pump(): void {
    while (!this.#closed) {
      const entry = this.#queue.peek();
      if (entry === undefined) return;
      const head = entry.item;
      const fits =
        this.#active.size < this.#maxJobs &&
        this.#usedCores + head.cores <= this.#cores + EPSILON &&
        this.#usedRamMiB + head.ramMiB <= this.#ramMiB + EPSILON;
      if (!fits) return;
      this.#queue.take(entry);
      head.entry = undefined;
      head.state = 'starting';
      this.#active.add(head);
      this.#usedCores += head.cores;
      this.#usedRamMiB += head.ramMiB;
      void this.#run(head);
    }
  }

  async #run(job: Job): Promise<void> {
    let result: JobResult;
    try {
      result = await this.#execute(job);
    } catch (err) {
      // #execute handles every expected failure; this keeps the never-rejects promise true.
      result = failedToStart(`internal error running job ${job.spec.id}: ${errorMessage(err)}`);
    }
    this.#release(job);
    this.#releasedEarly.delete(job);
    this.#finish(job, result);
  }

  /** Gives the job's slot and reservation back and starts whoever is next; once per job. */
  #release(job: Job): void {
    if (!this.#active.delete(job)) return;
    this.#queue.release(ownerOf(job.spec));
    if (this.#active.size === 0) {
      // Avoid drift from repeated fractional additions and subtractions.
      this.#usedCores = 0;
      this.#usedRamMiB = 0;
    } else {
      this.#usedCores -= job.cores;
      this.#usedRamMiB -= job.ramMiB;
    }
    this.#pump();
  }

  #finish(job: Job, result: JobResult): void {
    job.state = 'done';
    this.#unwatch(job);
    job.resolve(result);
  }

  #stop(job: Job, reason: StopReason, refill = true): void {
    switch (job.state) {
      case 'queued': {
        if (job.entry !== undefined) this.#queue.remove(job.entry);
        job.entry = undefined;
        this.#finish(job, ended({ kind: 'canceled' }));
        // The dropped job may have been the head blocking smaller ones.
        if (refill) this.#pump();
        return;
      }
      case 'starting':
        // #execute checks this right before spawning.
        job.stopReason ??= reason;
        return;
      case 'running':
        if (job.exited) return;
        job.stopReason ??= reason;
        this.#killGroup(job);
        return;
      case 'done':
        return;
    }
  }

  #killGroup(job: Job): Promise<void> {
    if (job.killing === undefined && job.pgid !== undefined) {
      // Only a real stop needs the wrapper's: after a normal exit its cleanup() is enough.
      const stop = job.stopReason === undefined ? Promise.resolve() : (job.wrapped?.stop?.().catch(() => undefined) ?? Promise.resolve());
      job.killing = Promise.all([stop, terminateGroup(job.pgid, this.#graceMs)]).then(() => undefined);
    }
    return job.killing ?? Promise.resolve();
  }

  async #execute(job: Job): Promise<JobResult> {
    let settled = false;
    try {
      const result = await this.#spawnAndWait(job);
      // An unwrapped job's process group is gone now: the next job starts while this one's
      // usage is read and its usage groups removed (which also stops whatever left the group),
      // not after, so the launcher is not kept waiting on the event loop's bookkeeping.
      if (job.wrapped === undefined) {
        this.#releasedEarly.add(job);
        this.#release(job);
      }
      if (job.wrapped?.settled !== undefined) {
        await job.wrapped.settled().catch(() => undefined);
        settled = true;
      }
      const usage = await this.#usageOf(job).catch(() => undefined);
      return usage === undefined ? result : { ...result, usage };
    } finally {
      const cleanup = job.wrapped?.cleanup?.().catch(() => undefined);
      if (settled && cleanup !== undefined) this.#finishLater(cleanup);
      else await cleanup;
      // Also kills what escaped the job's process group (a setsid daemon): it is still in the group.
      await job.usageGroup?.remove();
    }
  }

  /** A settled job's cleanup, which shutdown waits for. */
  #finishLater(cleanup: Promise<void>): void {
    this.#cleanups.add(cleanup);
    void cleanup.then(() => this.#cleanups.delete(cleanup));
  }

  /** The wrapper's groups (the sandbox's limits), else the usage groups, which the job may run without. */
  #groupsOf(job: Job): LaunchGroups | undefined {
    if (job.wrapped?.cgroups !== undefined) return { plan: job.wrapped.cgroups, required: true };
    return job.usageGroup === undefined ? undefined : { plan: job.usageGroup.plan, required: false };
  }

  /** The wrapper's measurement (its own cgroups), else the usage groups' if the job was born in them. */
  async #usageOf(job: Job): Promise<JobUsage | undefined> {
    if (job.wrapped?.usage !== undefined) return job.wrapped.usage();
    return job.measured ? job.usageGroup?.usage() : undefined;
  }

  async #spawnAndWait(job: Job): Promise<JobResult> {
    const { spec } = job;
    const command = spec.argv[0];
    if (command === undefined || command === '') {
      return failedToStart(`job ${spec.id} has an empty command line`);
    }
    try {
      if (!statSync(spec.cwd).isDirectory()) return failedToStart(`cannot start ${command}: working directory ${spec.cwd} is not a directory`);
    } catch (err) {
      return failedToStart(`cannot start ${command}: working directory ${spec.cwd}: ${errorMessage(err)}`);
    }
    if (job.stopReason !== undefined) return ended({ kind: 'canceled' });

    let argv = spec.argv;
    let env = spec.env;
    if (this.#wrapper !== undefined) {
      try {
        job.wrapped = await this.#wrapper.wrap(spec);
      } catch (err) {
        return failedToStart(`cannot start ${command}: ${errorMessage(err)}`);
      }
      ({ argv, env } = job.wrapped);
    }
    // The launcher makes the groups as it starts the job.
    if (job.wrapped?.usage === undefined) job.usageGroup = (await this.#detectUsageGroups())?.reserve();
    // A cancel may have arrived while the wrapper or the groups were being prepared.
    if (job.stopReason !== undefined) return ended({ kind: 'canceled' });

    let started: StartedProcess;
    try {
      started = await this.#launcher.launch({
        command: argv[0] ?? command,
        args: argv.slice(1),
        cwd: spec.cwd,
        env,
        stdinPath: spec.stdinPath,
        stdoutPath: spec.stdoutPath,
        stderrPath: spec.stderrPath,
        cgroups: this.#groupsOf(job),
      });
    } catch (err) {
      return failedToStart(err instanceof LaunchError && err.opening !== undefined ? `cannot start ${command}: ${err.message}` : spawnFailureMessage(command, err));
    }
    const pid = started.pid;
    job.measured = started.measured;

    // Marked running before any await so that a cancel arriving meanwhile kills the group.
    const startedAt = new Date();
    job.pgid = pid;
    job.state = 'running';
    // A cancel that arrived while the launcher was starting it stops it now.
    if (job.stopReason !== undefined) void this.#killGroup(job);
    try {
      job.onStart?.(startedAt);
    } catch {
      // A throwing callback is the caller's bug; the job must still be tracked to its end.
    }
    // Best effort: without the record only a crash of this process would leave the job behind.
    this.#registry?.add(pid);

    const timer = this.#armTimeLimit(job);
    const { code, signal } = await started.exit;
    job.exited = true;
    timer.clear();
    // Background leftovers of a command that exited by itself are stopped as well, so the job
    // really is over when its result says so.
    await this.#killGroup(job);
    this.#registry?.remove(pid);

    if (job.stopReason !== undefined) return ended({ kind: job.stopReason }, startedAt);
    const exitCode = code ?? 128 + (signal === null ? 0 : osConstants.signals[signal]);
    return ended({ kind: 'exited', exitCode }, startedAt);
  }

  #armTimeLimit(job: Job): { clear: () => void } {
    const seconds = job.spec.timeLimitSeconds;
    if (seconds === undefined || !(seconds > 0)) return { clear: () => undefined };
    const deadline = Date.now() + seconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.#stop(job, 'timed-out');
        return;
      }
      timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
    };
    arm();
    return { clear: () => clearTimeout(timer) };
  }
}
