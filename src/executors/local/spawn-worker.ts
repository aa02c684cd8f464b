/**
 * The spawn thread's body: starts each requested process as the leader of its own session and
 * reports its pid, then its exit. Nothing else runs here, so a spawn blocks only this thread.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parentPort } from 'node:worker_threads';
import type { SpawnReply, SpawnRequest } from './spawn-protocol.js';

const port = parentPort;
if (port === null) throw new Error('spawn-worker.ts runs as a worker thread');
const reply = (message: SpawnReply): void => port.postMessage(message);

port.on('message', (request: SpawnRequest) => {
  let child: ChildProcess;
  try {
    child = spawn(request.command, request.args, {
      cwd: request.cwd,
      env: { ...request.env },
      // A new session makes the child lead its own process group (pgid = pid).
      detached: true,
      stdio: [...request.stdio],
    });
  } catch (error) {
    // Synchronous failures are argument errors such as a NUL byte in argv.
    reply({ id: request.id, kind: 'failed', ...describe(error) });
    return;
  }
  if (child.pid === undefined) {
    // An exec failure (ENOENT, EACCES) is reported through 'error' on the next tick.
    child.once('error', (error) => reply({ id: request.id, kind: 'failed', ...describe(error) }));
    return;
  }
  // Later errors (a failed kill) must not crash the thread.
  child.on('error', () => undefined);
  reply({ id: request.id, kind: 'started', pid: child.pid });
  child.once('exit', (code, signal) => reply({ id: request.id, kind: 'exited', code, signal }));
});

function describe(error: unknown): { code?: string; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? { code, message } : { message };
}
