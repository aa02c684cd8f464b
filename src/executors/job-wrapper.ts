/**
 * Chooses how each job is started: a job with a container image goes to the container
 * wrapper, any other job to the sandbox (bubblewrap), or is started as is when the operator
 * runs unconfined jobs. Either branch may be absent; an image without a container wrapper
 * fails the job to start rather than run the command on the host. The same choice holds for
 * jobs a batch system starts on its own nodes (`forBatchJobs`), with each branch's variant
 * that prepares nothing on the server's host.
 */
import type { CommandWrapper, JobSpec, WrappedCommand } from './executor.js';

/** A wrapper that can also confine jobs started on another host (a Slurm node). */
export interface NodeWrapper extends CommandWrapper {
  /**
   * The same confinement for commands that run on another host: nothing host-local (control
   * groups, network namespaces) is made here, since it would be made on the wrong machine.
   */
  forBatchJobs(): CommandWrapper;
}

export interface JobWrapperOptions {
  /** Jobs without an image; absent: unconfined (WES_JOB_SANDBOX=none, or no bubblewrap with a single user). */
  readonly sandbox?: NodeWrapper;
  /** Jobs with `confinement.image` (DockerRequirement); absent: no container engine. */
  readonly container?: NodeWrapper;
}

function route(spec: JobSpec, sandbox: CommandWrapper | undefined, container: CommandWrapper | undefined): Promise<WrappedCommand> {
  const image = spec.confinement?.image;
  if (image !== undefined) {
    if (container === undefined) return Promise.reject(new Error(`image ${image} needs a container engine, and none is configured`));
    return container.wrap(spec);
  }
  if (sandbox !== undefined) return sandbox.wrap(spec);
  return Promise.resolve({ argv: spec.argv, env: spec.env });
}

export class JobWrapper implements NodeWrapper {
  readonly #sandbox: NodeWrapper | undefined;
  readonly #container: NodeWrapper | undefined;

  constructor(options: JobWrapperOptions) {
    this.#sandbox = options.sandbox;
    this.#container = options.container;
  }

  wrap(spec: JobSpec): Promise<WrappedCommand> {
    return route(spec, this.#sandbox, this.#container);
  }

  forBatchJobs(): CommandWrapper {
    const sandbox = this.#sandbox?.forBatchJobs();
    const container = this.#container?.forBatchJobs();
    return { wrap: (spec) => route(spec, sandbox, container) };
  }
}
