/**
 * What every part of one execution shares: where it runs, the executor and host, and the
 * controller that the caller's cancel (or, unless the run continues on errors, its first failure)
 * aborts.
 */
import type { Executor } from '../../executors/executor.js';
import type { OnError } from '../../engine-parameters.js';
import type { EngineHost } from '../engine-host.js';
import type { PathPolicy } from '../values/path-policy.js';

/** What the caller of executeProcess gives. */
export interface ExecuteOptions {
  /** Each job works in runDir/jobs/<job>/ (out/, tmp/, stage/). */
  readonly runDir: string;
  /** Each job's stdout/stderr go to logsDir/<job>.stdout.log and .stderr.log, where no job may write. */
  readonly logsDir: string;
  /** What the engine may read and write for this run (the run's directory, allowed input directories). */
  readonly policy: PathPolicy;
  readonly executor: Executor;
  /** The executor runs container images (DockerRequirement); absent means no engine. */
  readonly containers?: boolean;
  readonly host: EngineHost;
  readonly signal: AbortSignal;
  /** stop (the default): the first failure cancels the rest; continue: only what depends on it. */
  readonly onError?: OnError;
}

export interface RunState extends Omit<ExecuteOptions, 'signal' | 'onError'> {
  /** Aborted by the caller's signal or, when the run stops on errors, by its first failure. */
  readonly controller: AbortController;
  /** on_error continue: a failure stops only what depends on it. */
  readonly continueOnError: boolean;
  /** The failure the run ends with; later errors (cancellations it caused) do not replace it. */
  firstError?: unknown;
  /** Jobs that failed so far. */
  failedJobs: number;
}

export function recordFailure(run: RunState, error: unknown): void {
  run.firstError ??= error;
  if (!run.continueOnError) run.controller.abort();
}
