/**
 * A pool of sandbox worker threads (sandbox-worker.ts), so CWL expressions never run on the
 * server's event loop. Requests wait in one FIFO queue per run, served round-robin (a run
 * that floods the pool delays another run's next expression by one turn, not by its whole
 * backlog), and go to the first idle worker; at most `size` workers exist, started on
 * demand. An aborted request leaves its queue, or, when running, its worker is terminated. Each request's wall-clock deadline is a
 * timer here: when it fires the worker is terminated, which stops it even inside a long
 * built-in (`Array(1e6).join`) that QuickJS's interrupt handler never sees. A worker that
 * ran out of JS heap (its `resourceLimits`), trapped at its WebAssembly memory maximum, or
 * whose WebAssembly memory grew (it is never returned) is retired too, and its successor
 * starts clean. Idle workers are unref'd: they never keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import type { SandboxReply, SandboxRequest } from './sandbox-protocol.js';
import type { SandboxWorkerData } from './sandbox-worker.js';
import { siblingModule } from '../../sibling-module.js';

export interface SandboxPoolOptions {
  readonly size: number;
  /** The largest per-request memory limit; the worker's WebAssembly memory may reach twice that plus slack. */
  readonly memoryBytes: number;
}

export type SandboxOutcome =
  | { readonly kind: 'done'; readonly values: readonly (string | undefined)[] }
  | {
      readonly kind: 'failed';
      /** As the worker's reply, or `stopped`: the worker died or the pool closed; `aborted`: the caller's signal. */
      readonly reason: 'error' | 'time' | 'memory' | 'stopped' | 'aborted';
      readonly message: string;
      /** The expression that failed; -1 for expressionLib or when not known. */
      readonly index: number;
    };

interface Pending {
  readonly request: SandboxRequest;
  readonly queue: string;
  readonly resolve: (outcome: SandboxOutcome) => void;
  readonly signal?: AbortSignal;
  readonly onAbort: () => void;
}

const ENTRY = new URL('../../module-entry.mjs', import.meta.url);
const MODULE = siblingModule(import.meta.url, './sandbox-worker');
/** JS heap of a worker: the request's JSON and the result's JSON text live there. */
const WORKER_HEAP_MB = 256;
const MiB = 1024 * 1024;

class PoolWorker {
  readonly worker: Worker;
  ready = false;
  current?: Pending;
  timer?: NodeJS.Timeout;

  constructor(data: SandboxWorkerData) {
    this.worker = new Worker(ENTRY, {
      workerData: { ...data, module: MODULE },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      // The sandbox needs no environment; an empty one keeps the server's secrets out of the thread.
      env: {},
      stdout: false,
      stderr: false,
    });
  }
}

export class SandboxPool {
  readonly #options: SandboxPoolOptions;
  readonly #workers = new Set<PoolWorker>();
  /** Waiting requests by queue name; Map order is the round-robin order. */
  readonly #queues = new Map<string, Pending[]>();

  constructor(options: SandboxPoolOptions) {
    this.#options = options;
  }

  /**
   * Evaluates in a worker; resolves with the outcome (never rejects for anything the
   * expression does). `queue` names whose turn it is (a run); `signal` abandons it.
   */
  run(request: SandboxRequest, queue: string, signal?: AbortSignal): Promise<SandboxOutcome> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(aborted());
      const pending: Pending = {
        request,
        queue,
        signal,
        resolve: (outcome) => {
          signal?.removeEventListener('abort', pending.onAbort);
          resolve(outcome);
        },
        onAbort: () => this.#abandon(pending),
      };
      signal?.addEventListener('abort', pending.onAbort, { once: true });
      const waiting = this.#queues.get(queue);
      if (waiting === undefined) this.#queues.set(queue, [pending]);
      else waiting.push(pending);
      this.#dispatch();
    });
  }

  /** Terminates every worker; queued and running requests fail. For tests and shutdown. */
  async close(): Promise<void> {
    const workers = [...this.#workers];
    for (const waiting of this.#queues.values()) for (const pending of waiting) pending.resolve(stopped());
    this.#queues.clear();
    for (const w of workers) this.#retire(w, stopped());
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  #abandon(pending: Pending): void {
    const running = [...this.#workers].find((w) => w.current === pending);
    if (running !== undefined) return this.#retire(running, aborted());
    const waiting = this.#queues.get(pending.queue) ?? [];
    const at = waiting.indexOf(pending);
    if (at < 0) return;
    waiting.splice(at, 1);
    if (waiting.length === 0) this.#queues.delete(pending.queue);
    pending.resolve(aborted());
  }

  /** The next request in round-robin order: the head of the first queue, whose queue then goes last. */
  #next(): Pending | undefined {
    const first = this.#queues.entries().next();
    if (first.done === true) return undefined;
    const [name, waiting] = first.value;
    const pending = waiting.shift() as Pending;
    this.#queues.delete(name);
    if (waiting.length > 0) this.#queues.set(name, waiting);
    return pending;
  }

  #dispatch(): void {
    while (this.#queues.size > 0) {
      const idle = [...this.#workers].find((w) => w.ready && w.current === undefined);
      if (idle === undefined) {
        if (this.#workers.size < this.#options.size && ![...this.#workers].some((w) => !w.ready)) this.#start();
        return;
      }
      const pending = this.#next() as Pending;
      idle.current = pending;
      idle.worker.ref();
      idle.timer = setTimeout(() => this.#retire(idle, { kind: 'failed', reason: 'time', message: 'deadline', index: -1 }), pending.request.timeoutMs);
      idle.worker.postMessage(pending.request);
    }
  }

  #start(): void {
    const w = new PoolWorker({
      maxMemoryBytes: 2 * this.#options.memoryBytes + 64 * MiB,
      recycleAboveBytes: 32 * MiB,
    });
    this.#workers.add(w);
    w.worker.on('message', (reply: SandboxReply) => this.#onReply(w, reply));
    w.worker.on('error', (error: Error & { code?: string }) => {
      const memory = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
      const outcome: SandboxOutcome = { kind: 'failed', reason: memory ? 'memory' : 'stopped', message: error.message, index: -1 };
      // A worker that fails before it is ready would fail again: the queue fails with it.
      if (!w.ready) {
        for (const waiting of this.#queues.values()) for (const pending of waiting) pending.resolve(outcome);
        this.#queues.clear();
      }
      this.#retire(w, outcome);
    });
    w.worker.on('exit', () => this.#retire(w, { kind: 'failed', reason: 'stopped', message: 'the sandbox worker exited', index: -1 }));
  }

  #onReply(w: PoolWorker, reply: SandboxReply): void {
    if (reply.kind === 'ready') {
      w.ready = true;
      w.worker.unref();
      this.#dispatch();
      return;
    }
    const pending = w.current;
    clearTimeout(w.timer);
    w.current = undefined;
    if (reply.recycle) this.#retire(w, undefined);
    else w.worker.unref();
    pending?.resolve(reply.kind === 'done' ? { kind: 'done', values: reply.values } : reply);
    this.#dispatch();
  }

  /** Removes and terminates `w`; its current request, if any, ends with `outcome`. */
  #retire(w: PoolWorker, outcome: SandboxOutcome | undefined): void {
    if (!this.#workers.delete(w)) return;
    clearTimeout(w.timer);
    const pending = w.current;
    w.current = undefined;
    void w.worker.terminate();
    if (pending !== undefined && outcome !== undefined) pending.resolve(outcome);
    this.#dispatch();
  }
}

function aborted(): SandboxOutcome {
  return { kind: 'failed', reason: 'aborted', message: 'abandoned', index: -1 };
}

function stopped(): SandboxOutcome {
  return { kind: 'failed', reason: 'stopped', message: 'the expression sandbox was shut down', index: -1 };
}
