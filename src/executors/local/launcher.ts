/**
 * Starts job processes from a small launcher process instead of the server. child_process.spawn
 * blocks its caller until the child has exec'd (libuv waits on a close-on-exec pipe), and the
 * fork behind it copies the caller's page tables: 1–5 ms per job in the server, more as its heap
 * grows, during which the event loop (and, from a worker thread, every thread touching memory)
 * stood still. Every API request waited, and a run could not go past a few hundred jobs a second.
 * The launcher (launcher-process.ts) opens each job's redirections itself and reports pids and
 * exits over its IPC channel; it is referenced only while it has processes to follow, so an idle
 * server can exit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LaunchReply, LaunchRequest, Redirection } from './launch-protocol.js';
import { siblingModule } from '../../sibling-module.js';

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  readonly pid: number;
  /** Born inside the control groups the request named (LaunchRequest.cgroups). */
  readonly measured: boolean;
  /** Resolves when the process has exited (its group may live on). */
  readonly exit: Promise<ProcessExit>;
}

/**
 * A process that could not be started: `opening` names the redirection that could not be
 * opened; otherwise `code` is the spawn's errno name (ENOENT, EACCES) when there is one.
 */
export class LaunchError extends Error {
  readonly code: string | undefined;
  readonly opening: Redirection | undefined;
  constructor(message: string, code?: string, opening?: Redirection) {
    super(message);
    this.name = 'LaunchError';
    this.code = code;
    this.opening = opening;
  }
}

const ENTRY = fileURLToPath(new URL('../../module-entry.mjs', import.meta.url));
const MODULE = siblingModule(import.meta.url, './launcher-process');

interface Pending {
  started?: { resolve: (process: StartedProcess) => void; reject: (error: Error) => void };
  exited?: (exit: ProcessExit) => void;
}

export class Launcher {
  #child: ChildProcess | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  launch(request: Omit<LaunchRequest, 'id'>): Promise<StartedProcess> {
    const id = this.#nextId++;
    const child = this.#process();
    return new Promise<StartedProcess>((resolve, reject) => {
      this.#pending.set(id, { started: { resolve, reject } });
      setReferenced(child, true);
      child.send({ ...request, id } satisfies LaunchRequest);
    });
  }

  /** Ends the launcher; call once no process is followed any more. */
  close(): void {
    const child = this.#child;
    this.#child = undefined;
    if (child?.connected === true) child.disconnect();
  }

  #process(): ChildProcess {
    if (this.#child !== undefined) return this.#child;
    const child = fork(ENTRY, [MODULE], {
      // Every launch names its environment; the launcher needs none of the server's.
      env: {},
      execArgv: [],
      serialization: 'json',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.on('message', (reply: LaunchReply) => this.#receive(reply));
    child.once('error', (error) => this.#lost(child, error));
    child.once('exit', (code, signal) => this.#lost(child, new Error(`the job launcher exited (${signal ?? code})`)));
    setReferenced(child, false);
    this.#child = child;
    return child;
  }

  #receive(reply: LaunchReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    switch (reply.kind) {
      case 'started': {
        const exit = new Promise<ProcessExit>((resolve) => {
          pending.exited = resolve;
        });
        pending.started?.resolve({ pid: reply.pid, measured: reply.measured, exit });
        pending.started = undefined;
        return;
      }
      case 'failed':
        this.#settle(reply.id);
        pending.started?.reject(new LaunchError(reply.message, reply.code, reply.opening));
        return;
      case 'exited':
        this.#settle(reply.id);
        pending.exited?.({ code: reply.code, signal: reply.signal });
        return;
    }
  }

  #settle(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0 && this.#child !== undefined) setReferenced(this.#child, false);
  }

  /**
   * The launcher died (it should not): whatever it was starting failed, and the processes it
   * followed are reported as killed; the executor then stops their groups, which makes that true.
   */
  #lost(child: ChildProcess, error: Error): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const each of pending) {
      each.started?.reject(new LaunchError(`cannot start the job: ${error.message}`));
      each.exited?.({ code: null, signal: 'SIGKILL' });
    }
  }
}

/** Whether the launcher (process and channel) keeps the server's event loop alive. */
function setReferenced(child: ChildProcess, referenced: boolean): void {
  if (referenced) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}
