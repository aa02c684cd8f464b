/**
 * An EngineHost that lets one run have only a few store operations in flight. The engine starts
 * a scatter's elements all at once, so a 20,000-element step asks the host for 20,000 inserts
 * together; the database pool (or SQLite's single connection) serves waiting queries first come,
 * first served, and every other user's run would wait behind all of them. Queued here, per run,
 * the run's requests take at most `maxInFlight` places in the pool's line at any moment.
 * Reports on jobs already running (started, ended) go before new work, so the store keeps up
 * with what has run (what a resume reuses) while a big scatter is still being recorded.
 */
import type { EngineHost } from '../engine-host.js';

export function limitHost(host: EngineHost, maxInFlight: number): EngineHost {
  const lane = new Lane(maxInFlight);
  return {
    stepStarted: (step) => lane.run('new', () => host.stepStarted(step)),
    scatterSized: (path, elements) => lane.run('new', () => host.scatterSized(path, elements)),
    jobCreated: (path, element, job) => lane.run('new', () => host.jobCreated(path, element, job)),
    findCompletedJob: (path, element) => lane.run('new', () => host.findCompletedJob(path, element)),
    jobStarted: (path, element, startedAt) => lane.run('progress', () => host.jobStarted(path, element, startedAt)),
    jobEnded: (path, element, end, endedAt) => lane.run('progress', () => host.jobEnded(path, element, end, endedAt)),
    // The optional resume reports (executors whose jobs outlive the server) pass through the same lane.
    jobSubmitted: async (path, element, externalId) => lane.run('progress', async () => host.jobSubmitted?.(path, element, externalId)),
    findExternalJobId: async (path, element) => lane.run('new', async () => host.findExternalJobId?.(path, element)),
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
