/**
 * Signalling and reaping of a whole POSIX process group. A job is spawned as the leader of its
 * own group (pgid = leader pid), so everything it forks — unless it deliberately leaves with
 * setsid/setpgid — can be signalled and waited for through the group id, even after the leader
 * itself has exited.
 */
import { readdir, readFile } from 'node:fs/promises';
import { errorCode } from '../../errors.js';

const POLL_MS = 50;

/** Sends `signal` to every member of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    // EPERM means members exist that we may not signal (e.g. a setuid program): still alive.
    return errorCode(err) !== 'ESRCH';
  }
}

/**
 * Whether any process of the group is still running. kill(-pgid, 0) alone also answers yes for
 * zombies, and orphaned grandchildren stay zombies forever when PID 1 does not reap (common in
 * containers), so on Linux the answer is confirmed from /proc, ignoring zombie members.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true;
  }
  const checks = entries
    .filter((name) => /^\d+$/.test(name))
    .map(async (name) => {
      try {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8');
        // The command name is parenthesised and may itself contain spaces or ')'.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const state = fields[0];
        const pgrp = Number(fields[2]);
        return pgrp === pgid && state !== 'Z' && state !== 'X';
      } catch {
        return false; // The process vanished between readdir and readFile.
      }
    });
  return (await Promise.all(checks)).some(Boolean);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once no live process of the group is left, however long that takes. */
export async function waitGroupGone(pgid: number): Promise<void> {
  while (await groupAlive(pgid)) await sleep(POLL_MS);
}

/**
 * SIGTERM to the group, SIGKILL to whatever is left after `graceMs`, then waits until the group
 * is empty. Safe to call on a group that is already gone: the group id cannot be reused by a new
 * process while any member of the group still exists, so a signal never hits a stranger.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!(await groupAlive(pgid))) return;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await groupAlive(pgid))) return;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
  while (await groupAlive(pgid)) {
    // Repeated because a member may fork between two SIGKILLs while we wait.
    signalGroup(pgid, 'SIGKILL');
    await sleep(POLL_MS);
  }
}
