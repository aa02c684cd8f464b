/**
 * The launcher process's body: opens each job's redirections, starts the job as the leader of
 * its own session, reports its pid, then its exit. It is small (no store, no HTTP, no engine), so
 * the fork behind every spawn copies little, and whatever a spawn blocks is this process, not the
 * server. It leaves with the server: a closed channel ends it (the jobs live on, recorded in the
 * executor's group registry for the next server to stop).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LaunchGroups, LaunchReply, LaunchRequest, Redirection } from './launch-protocol.js';
import { makeGroups } from '../sandbox/job-cgroups.js';
import { errorCode, errorMessage } from '../../errors.js';

const reply = (message: LaunchReply): void => {
  process.send?.(message);
};
// Never through a link: whatever was planted at a log's path is not the file to truncate.
const WRITE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

process.on('disconnect', () => process.exit(0));
process.on('message', (request: LaunchRequest) => launch(request));

function launch(request: LaunchRequest): void {
  const fds: number[] = [];
  const open = (role: Redirection, path: string, flags: number): number => {
    try {
      const fd = openSync(path, flags);
      fds.push(fd);
      return fd;
    } catch (error) {
      throw Object.assign(new Error(`cannot open ${role} ${path}: ${errorMessage(error)}`), { opening: role });
    }
  };
  let child: ChildProcess;
  let entered: readonly string[] = [];
  try {
    const stdin = request.stdinPath === undefined ? 'ignore' : open('stdin', request.stdinPath, constants.O_RDONLY);
    const stdout = open('stdout', request.stdoutPath, WRITE);
    // One shared descriptor when both go to the same file, so the streams interleave instead of
    // overwriting each other from two independent offsets.
    const stderr = request.stderrPath === request.stdoutPath ? stdout : open('stderr', request.stderrPath, WRITE);
    entered = enterGroups(request.cgroups);
    child = spawn(request.command, request.args, {
      cwd: request.cwd,
      env: { ...request.env },
      // A new session makes the child lead its own process group (pgid = pid).
      detached: true,
      stdio: [stdin, stdout, stderr],
    });
  } catch (error) {
    // Failed opens, groups a sandboxed job cannot run without, and argument errors such as a NUL byte in argv.
    reply({ id: request.id, kind: 'failed', ...describe(error) });
    return;
  } finally {
    // The child holds its own duplicates.
    for (const fd of fds) closeSync(fd);
    // A throw here ends the launcher, as it must: left inside, it would be measured as the job
    // and killed with the job's leftovers.
    leaveGroups(entered);
  }
  const measured = entered.length > 0;
  if (child.pid === undefined) {
    // An exec failure (ENOENT, EACCES) is reported through 'error' on the next tick.
    child.once('error', (error) => reply({ id: request.id, kind: 'failed', ...describe(error) }));
    return;
  }
  // Later errors (a failed kill) must not end the launcher.
  child.on('error', () => undefined);
  reply({ id: request.id, kind: 'started', pid: child.pid, measured });
  child.once('exit', (code, signal) => reply({ id: request.id, kind: 'exited', code, signal }));
}

/**
 * Makes the groups with their limits (here, off the server's event loop, and without a shell
 * exec per job to step in), all before entering one, so that making them is not charged to the
 * job; then moves this (the main, forking) thread into each: cgroup v1 moves one thread per
 * write to `tasks`, so the launcher's other threads stay where they are. All or none: a job
 * measured in some groups only would report part of its use, and a sandboxed job must not run
 * outside its limits, so a failure steps back out and, when the groups are required, fails the
 * launch (the executor removes what was made). Returns the groups entered.
 */
function enterGroups(groups: LaunchGroups | undefined): readonly string[] {
  if (groups === undefined) return [];
  const entered: string[] = [];
  try {
    makeGroups(groups.plan);
    for (const file of groups.plan.tasksFiles) {
      writeFileSync(file, String(process.pid));
      entered.push(file);
    }
    return entered;
  } catch (error) {
    leaveGroups(entered);
    if (groups.required) throw new Error(`cannot set up the job's control groups: ${errorMessage(error)}`);
    return [];
  }
}

function leaveGroups(files: readonly string[]): void {
  for (const file of files) writeFileSync(join(dirname(dirname(file)), 'tasks'), String(process.pid));
}

function describe(error: unknown): { code?: string; opening?: Redirection; message: string } {
  const code = errorCode(error);
  const { opening } = error as { opening?: Redirection };
  return { message: errorMessage(error), ...(code === undefined ? {} : { code }), ...(opening === undefined ? {} : { opening }) };
}
