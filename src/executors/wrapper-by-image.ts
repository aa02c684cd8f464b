/**
 * The one CommandWrapper a LocalExecutor is given, choosing per job: a job that names a
 * container image starts through the container wrapper, any other through the sandbox (or as
 * it is when there is none).
 */
import type { CommandWrapper, JobSpec, WrappedCommand } from './executor.js';
import type { ContainerEngine } from './container/container-engine.js';
import { ContainerWrapper } from './container/container-wrapper.js';
import { ImageStore } from './container/image-store.js';

export class WrapperByImage implements CommandWrapper {
  readonly #containers: CommandWrapper | undefined;
  readonly #others: CommandWrapper | undefined;
  readonly #noEngine: string;

  /** `noEngine` is the message a job with an image fails with when `containers` is undefined. */
  constructor(containers: CommandWrapper | undefined, others: CommandWrapper | undefined, noEngine: string) {
    this.#containers = containers;
    this.#others = others;
    this.#noEngine = noEngine;
  }

  async wrap(spec: JobSpec): Promise<WrappedCommand> {
    if (spec.confinement?.image !== undefined) {
      if (this.#containers === undefined) throw new Error(this.#noEngine);
      return this.#containers.wrap(spec);
    }
    return this.#others === undefined ? { argv: spec.argv, env: spec.env } : this.#others.wrap(spec);
  }
}

/** The wrapper an executor is given: images through `engine` (one image store per server), the rest through `others`. */
export function wrapperFor(engine: ContainerEngine | undefined, others?: CommandWrapper): WrapperByImage {
  return new WrapperByImage(
    engine === undefined ? undefined : new ContainerWrapper(engine, new ImageStore(engine)),
    others,
    'the job needs a container image but this server has no container engine (install podman)',
  );
}
