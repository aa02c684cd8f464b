/**
 * What every part of one execution shares: where it runs, the executor and host, and the
 * controller that the caller's cancel (or, unless the run continues on errors, its first failure)
 * aborts.
 */
import type { Executor } from '../../executors/executor.js';
import type { EngineHost } from '../engine-host.js';
import type { PathPolicy } from '../values/path-policy.js';

export interface RunState {
  readonly runDir: string;
  readonly logsDir: string;
  readonly policy: PathPolicy;
  readonly executor: Executor;
  /** The executor runs container images (DockerRequirement); absent means no engine. */
  readonly containers?: boolean;
  readonly host: EngineHost;
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
