/**
 * An EngineHost that lets one run have only a few store operations in flight: step rows,
 * planned scatter batches, resume lookups. The database pool (or SQLite's single connection)
 * serves waiting queries first come, first served, so without this one run's burst (a resumed
 * scatter's lookups) would make every other user's run wait behind all of it. Queued here, per
 * run, the run's requests take at most `maxInFlight` places in the pool's line at any moment.
 * Job reports (created, started, ended) skip the lane: the host batches them itself, one write
 * in flight per run.
 */
import type { EngineHost } from '../engine/engine-host.js';

export function limitHost(host: EngineHost, maxInFlight: number): EngineHost {
  const lane = new Lane(maxInFlight);
  const scatterOutputs = host.scatterOutputs?.bind(host);
  return {
    stepStarted: (step) => lane.run('new', () => host.stepStarted(step)),
    scatterSized: (path, elements) => lane.run('new', () => host.scatterSized(path, elements)),
    elementsNotRun: (path, from, to) => lane.run('progress', () => host.elementsNotRun(path, from, to)),
    findCompletedJob: (path, element) => lane.run('new', () => host.findCompletedJob(path, element)),
    findExternalJobId: async (path, element) => lane.run('new', async () => host.findExternalJobId?.(path, element)),
    // A job's reports are batched by the host itself (one write in flight per run, job-writer.ts):
    // through the lane they would each hold a place while waiting for their batch.
    jobCreated: (path, element, job) => host.jobCreated(path, element, job),
    jobStarted: (path, element, startedAt) => host.jobStarted(path, element, startedAt),
    jobEnded: (path, element, end, endedAt) => host.jobEnded(path, element, end, endedAt),
    jobSubmitted: async (path, element, externalId) => host.jobSubmitted?.(path, element, externalId),
    // Whether the host keeps scatter outputs decides where the engine keeps them: pass its absence on.
    ...(scatterOutputs === undefined ? {} : { scatterOutputs: (path, from, to) => lane.run('progress', () => scatterOutputs(path, from, to)) }),
  };
}

/** A FIFO with O(1) push and shift (a consumed prefix is dropped once it is most of the array). */
class Fifo<T> {
  readonly #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** At most `max` tasks at once; waiting progress tasks go first, each kind in FIFO order. */
class Lane {
  readonly #max: number;
  #running = 0;
  readonly #waiting = { progress: new Fifo<() => void>(), new: new Fifo<() => void>() };

  constructor(max: number) {
    this.#max = max;
  }

  async run<T>(kind: 'progress' | 'new', task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#max) {
      await new Promise<void>((resolve) => this.#waiting[kind].push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      this.#next();
    }
  }

  /** Hands the finished task's place to the next waiter (the count stays), or frees it. */
  #next(): void {
    const wake = this.#waiting.progress.shift() ?? this.#waiting.new.shift();
    if (wake === undefined) this.#running--;
    else wake();
  }
}
