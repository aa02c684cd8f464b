/**
 * One run's view of the server's executor: its jobs go on behalf of the run's owner (so the
 * executor shares its slots among users), with that run's workflow_engine_parameters
 * applied: at most `maxJobs` of its jobs are handed on at once (the rest wait here, in order),
 * and a job without its own time limit gets `jobTimeLimitSeconds`. The server's executor
 * still applies its own limits; shutting this view down does nothing (the server owns it).
 */
import type { Executor, JobHandle, JobResult, JobSpec } from './executor.js';

export interface RunLimits {
  readonly maxJobs?: number;
  readonly jobTimeLimitSeconds?: number;
}

/** Told of every job that ended, however it ended (e.g. for the job-duration metric). */
export type JobEndedListener = (result: JobResult) => void;

export interface RunViewOptions {
  /** The user the run's jobs are submitted for (JobSpec.owner). */
  readonly owner?: string;
  readonly onEnded?: JobEndedListener;
}

export class RunLimitedExecutor implements Executor {
  readonly #inner: Executor;
  readonly #limits: RunLimits;
  readonly #owner: string | undefined;
  readonly #onEnded: JobEndedListener | undefined;
  readonly #waiting: (() => void)[] = [];
  #running = 0;

  constructor(inner: Executor, limits: RunLimits, options: RunViewOptions = {}) {
    this.#inner = inner;
    this.#limits = limits;
    this.#owner = options.owner;
    this.#onEnded = options.onEnded;
  }

  get capacity(): number {
    return Math.min(this.#inner.capacity, this.#limits.maxJobs ?? Infinity);
  }

  submit(spec: JobSpec, signal: AbortSignal, onStart?: (startedAt: Date) => void, onSubmitted?: (externalId: string) => void): JobHandle {
    const limited: JobSpec = {
      ...spec,
      ...(this.#owner === undefined ? {} : { owner: this.#owner }),
      ...(spec.timeLimitSeconds || this.#limits.jobTimeLimitSeconds === undefined ? {} : { timeLimitSeconds: this.#limits.jobTimeLimitSeconds }),
    };
    return { result: this.#run(limited, signal, onStart, onSubmitted) };
  }

  /** A job of an earlier server is already running: it is followed, not limited again. */
  async attach(externalId: string, signal: AbortSignal, onStart?: (startedAt: Date) => void): Promise<JobHandle | undefined> {
    return this.#inner.attach?.(externalId, signal, onStart);
  }

  async shutdown(): Promise<void> {}

  async #run(spec: JobSpec, signal: AbortSignal, onStart?: (startedAt: Date) => void, onSubmitted?: (externalId: string) => void): Promise<JobResult> {
    if (!(await this.#slot(signal))) return { outcome: { kind: 'canceled' }, endedAt: new Date() };
    try {
      const result = await this.#inner.submit(spec, signal, onStart, onSubmitted).result;
      this.#onEnded?.(result);
      return result;
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  /** Waits for a free slot; false when the job was aborted while waiting. */
  async #slot(signal: AbortSignal): Promise<boolean> {
    const max = this.#limits.maxJobs;
    while (max !== undefined && this.#running >= max) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', wake);
          const at = this.#waiting.indexOf(wake);
          if (at >= 0) this.#waiting.splice(at, 1);
          resolve();
        };
        this.#waiting.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
    if (signal.aborted) return false;
    this.#running++;
    return true;
  }
}
