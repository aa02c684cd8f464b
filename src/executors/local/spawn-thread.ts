/**
 * Starts job processes from a worker thread instead of the event loop. child_process.spawn
 * blocks its thread until the child has exec'd (libuv waits on a close-on-exec pipe): 1–5 ms
 * per job, more as the server's heap grows (fork copies its page tables). On the main thread
 * that stalled every API request during a big scatter and capped a run at a few hundred jobs a
 * second. The worker shares this process's descriptor table, so the caller opens a job's
 * redirections and passes their numbers; it stays referenced only while it has processes to
 * follow, so an idle server can exit.
 */
import { Worker } from 'node:worker_threads';
import type { SpawnReply, SpawnRequest } from './spawn-protocol.js';

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  readonly pid: number;
  /** Resolves when the process has exited (its group may live on). */
  readonly exit: Promise<ProcessExit>;
}

/** A process that could not be started; `code` is the errno name (ENOENT, EACCES) when there is one. */
export class SpawnError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'SpawnError';
    this.code = code;
  }
}

const ENTRY = new URL('../../typescript-worker.mjs', import.meta.url);
const MODULE = new URL('./spawn-worker.ts', import.meta.url).href;
/** The thread only holds a few messages and handles per running job. */
const WORKER_HEAP_MB = 64;

interface Pending {
  started?: { resolve: (process: StartedProcess) => void; reject: (error: Error) => void };
  exited?: (exit: ProcessExit) => void;
}

export class SpawnThread {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  spawn(request: Omit<SpawnRequest, 'id'>): Promise<StartedProcess> {
    const id = this.#nextId++;
    const worker = this.#thread();
    return new Promise<StartedProcess>((resolve, reject) => {
      this.#pending.set(id, { started: { resolve, reject } });
      worker.ref();
      worker.postMessage({ ...request, id } satisfies SpawnRequest);
    });
  }

  /** Stops the thread; call once no process is followed any more. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #thread(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(ENTRY, {
      workerData: { module: MODULE },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      // Every spawn names its environment; the thread needs none of the server's.
      env: {},
      stdout: false,
      stderr: false,
    });
    worker.on('message', (reply: SpawnReply) => this.#receive(reply));
    worker.once('error', (error) => this.#lost(worker, error));
    worker.once('exit', () => this.#lost(worker, new Error('the spawn thread exited')));
    this.#worker = worker;
    return worker;
  }

  #receive(reply: SpawnReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    switch (reply.kind) {
      case 'started': {
        const exit = new Promise<ProcessExit>((resolve) => {
          pending.exited = resolve;
        });
        pending.started?.resolve({ pid: reply.pid, exit });
        pending.started = undefined;
        return;
      }
      case 'failed':
        this.#settle(reply.id);
        pending.started?.reject(new SpawnError(reply.message, reply.code));
        return;
      case 'exited':
        this.#settle(reply.id);
        pending.exited?.({ code: reply.code, signal: reply.signal });
        return;
    }
  }

  #settle(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker?.unref();
  }

  /**
   * The thread died (it should not): whatever it was starting failed, and the processes it
   * followed are reported as killed, since no exit status can be known for them any more.
   */
  #lost(worker: Worker, error: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const each of pending) {
      each.started?.reject(new SpawnError(`cannot start the job: ${error.message}`));
      each.exited?.({ code: null, signal: 'SIGKILL' });
    }
  }
}
