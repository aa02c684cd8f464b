/**
 * Container images a job needs, obtained at most once at a time per image: the first job that
 * asks checks the machine (`image inspect`) and, when the image is missing, pulls, loads,
 * imports or builds it as its ImageSource says; every job asking meanwhile or later shares that
 * promise, so a scatter of 1,000 jobs on one image checks it once. A failure is not kept: the
 * next job (or run) tries again, e.g. after the operator made the image available.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageSource } from '../executor.js';
import type { ContainerEngine, EngineOutput } from './container-engine.js';

/** The image is missing and could not be obtained; the message names it and the engine's reason. */
export class ImageUnavailableError extends Error {
  constructor(image: string, reason: string) {
    super(`container image ${image} is not available: ${reason}`);
    this.name = 'ImageUnavailableError';
  }
}

function reasonOf(output: EngineOutput): string {
  const text = (output.stderr.trim() || output.stdout.trim()).split('\n').filter((l) => l.trim() !== '');
  return text.slice(-3).join(' / ') || `exit code ${output.code}`;
}

export class ImageStore {
  readonly #engine: ContainerEngine;
  readonly #ready = new Map<string, Promise<void>>();

  constructor(engine: ContainerEngine) {
    this.#engine = engine;
  }

  /** Resolves once `image` is on the machine; rejects with ImageUnavailableError. */
  ensure(image: string, source: ImageSource | undefined): Promise<void> {
    let ready = this.#ready.get(image);
    if (ready === undefined) {
      ready = this.#obtain(image, source ?? { kind: 'pull', reference: image });
      this.#ready.set(image, ready);
      ready.catch(() => this.#ready.delete(image));
    }
    return ready;
  }

  async #present(image: string): Promise<boolean> {
    return (await this.#engine.exec(['image', 'inspect', '--format', '{{.Id}}', image])).code === 0;
  }

  async #obtain(image: string, source: ImageSource): Promise<void> {
    if (await this.#present(image)) return;
    const engine = this.#engine;
    let named: string | undefined;
    switch (source.kind) {
      case 'pull': {
        const pulled = await engine.exec(['pull', '--quiet', source.reference]);
        if (pulled.code !== 0) throw new ImageUnavailableError(image, reasonOf(pulled));
        named = source.reference;
        break;
      }
      case 'load': {
        const loaded = await engine.exec(['load', '--input', source.archive]);
        if (loaded.code !== 0) throw new ImageUnavailableError(image, reasonOf(loaded));
        // "Loaded image: name" (docker), "Loaded image(s): name,…" (podman), or an image ID.
        named = /Loaded image[^:]*:\s*(\S+)/.exec(loaded.stdout)?.[1]?.split(',')[0];
        break;
      }
      case 'import': {
        const imported = await engine.exec(['import', source.archive, image]);
        if (imported.code !== 0) throw new ImageUnavailableError(image, reasonOf(imported));
        break;
      }
      case 'build':
        await this.#build(image, source.dockerfile);
        break;
    }
    if (named !== undefined && named !== image && !(await this.#present(image))) {
      const tagged = await engine.exec(['tag', named, image]);
      if (tagged.code !== 0) throw new ImageUnavailableError(image, `obtained ${named} but could not name it: ${reasonOf(tagged)}`);
    }
    if (!(await this.#present(image))) throw new ImageUnavailableError(image, `${source.kind} did not produce it`);
  }

  /** Builds with an empty context directory: CWL gives only the Dockerfile's text. */
  async #build(image: string, dockerfile: string): Promise<void> {
    const context = await mkdtemp(join(tmpdir(), 'wes-build-'));
    try {
      await writeFile(join(context, 'Dockerfile'), dockerfile);
      const { nofile, nproc } = this.#engine.ulimits;
      const ulimits = [
        ...(nofile === undefined ? [] : ['--ulimit', `nofile=${nofile}:${nofile}`]),
        ...(nproc === undefined ? [] : ['--ulimit', `nproc=${nproc}:${nproc}`]),
      ];
      const built = await this.#engine.exec(['build', ...ulimits, '--tag', image, '--file', join(context, 'Dockerfile'), context]);
      if (built.code !== 0) throw new ImageUnavailableError(image, reasonOf(built));
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  }
}
