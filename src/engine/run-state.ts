/**
 * What every part of one execution shares: where it runs, the executor and host, and the
 * controller that the caller's cancel or the run's first failure aborts.
 */
import type { Executor } from '../executors/executor.js';
import type { EngineHost } from './engine-host.js';
import type { PathPolicy } from './path-policy.js';

export interface RunState {
  readonly runDir: string;
  readonly logsDir: string;
  readonly policy: PathPolicy;
  readonly executor: Executor;
  /** The executor runs container images (DockerRequirement); absent means no engine. */
  readonly containers?: boolean;
  readonly host: EngineHost;
  /** Aborted by the caller's signal or by the run's first failure. */
  readonly controller: AbortController;
  /** The failure the run ends with; later errors (cancellations it caused) do not replace it. */
  firstError?: unknown;
}

export function recordFailure(run: RunState, error: unknown): void {
  run.firstError ??= error;
  run.controller.abort();
}
