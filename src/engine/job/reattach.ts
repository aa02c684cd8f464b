/**
 * Reattaching a job to the executor's job of an earlier attempt of its run (a Slurm job that
 * went on while no server ran), instead of starting it again. The host knows the earlier
 * submission's id; the executor follows that job to its end; then the engine prepares the job
 * as usual over the kept directory (nothing runs in it any more) and takes the attached result
 * instead of submitting. The new job row gets the same executor id and the real start time.
 */
import type { Executor, JobHandle } from '../../executors/executor.js';
import type { EngineHost, StepPath } from '../engine-host.js';

export class Reattachment {
  readonly #host: EngineHost;
  readonly #path: StepPath;
  readonly #element: number | undefined;
  #externalId: string | undefined;
  #startedAt: Date | undefined;

  constructor(host: EngineHost, path: StepPath, element: number | undefined) {
    this.#host = host;
    this.#path = path;
    this.#element = element;
  }

  /** The earlier attempt's job, ended (its result settled), or undefined: run the job afresh. */
  async attach(executor: Executor, signal: AbortSignal): Promise<JobHandle | undefined> {
    if (executor.attach === undefined || this.#host.findExternalJobId === undefined) return undefined;
    const externalId = await this.#host.findExternalJobId(this.#path, this.#element);
    if (externalId === undefined) return undefined;
    const handle = await executor.attach(externalId, signal, (at) => {
      this.#startedAt = at;
    });
    if (handle === undefined) return undefined;
    // Waiting here keeps the job's directory quiet while the engine stages over it again.
    const result = await handle.result;
    this.#externalId = externalId;
    return { result: Promise.resolve(result) };
  }

  /** After the new job row exists: what the attached job reported goes to it. */
  replay(report: { submitted: (externalId: string) => void; started: (at: Date) => void }): void {
    if (this.#externalId === undefined) return;
    report.submitted(this.#externalId);
    if (this.#startedAt !== undefined) report.started(this.#startedAt);
  }
}
