/**
 * Chooses how each job is started: a job with a container image goes to the container
 * wrapper, any other job to the sandbox (bubblewrap), or is started as is when the operator
 * runs unconfined jobs. Either branch may be absent; an image without a container wrapper
 * fails the job to start rather than run the command on the host.
 */
import type { CommandWrapper, JobSpec, WrappedCommand } from './executor.js';

export interface JobWrapperOptions {
  /** Jobs without an image; absent: unconfined (WES_JOB_SANDBOX=none, or no bubblewrap with a single user). */
  readonly sandbox?: CommandWrapper;
  /** Jobs with `confinement.image` (DockerRequirement); absent: no container engine. */
  readonly container?: CommandWrapper;
}

export class JobWrapper implements CommandWrapper {
  readonly #sandbox: CommandWrapper | undefined;
  readonly #container: CommandWrapper | undefined;

  constructor(options: JobWrapperOptions) {
    this.#sandbox = options.sandbox;
    this.#container = options.container;
  }

  async wrap(spec: JobSpec): Promise<WrappedCommand> {
    const image = spec.confinement?.image;
    if (image !== undefined) {
      if (this.#container === undefined) throw new Error(`image ${image} needs a container engine, and none is configured`);
      return this.#container.wrap(spec);
    }
    if (this.#sandbox !== undefined) return this.#sandbox.wrap(spec);
    return { argv: spec.argv, env: spec.env };
  }
}
