/**
 * Who a server process is, in a form another process on the same host can check: the boot and
 * PID namespace, the pid and the pid's start time (clock ticks since boot, /proc/<pid>/stat
 * field 22). A pid is reused after its process ends, the triple never is, so "is the process
 * that wrote this record still alive?" has an exact answer without asking it. Leftovers (job
 * process groups, containers) are only ever removed for processes that are really gone.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  readonly host: string;
  /**
   * The boot id and the PID namespace (`<boot id>.<namespace inode>`): pids of two containers
   * of one host (one boot) name different processes.
   */
  readonly boot: string;
  readonly pid: number;
  /** Start time of the pid in clock ticks since boot; '' where /proc is missing. */
  readonly start: string;
}

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Field 22 of /proc/<pid>/stat; undefined when the process does not exist. */
function startTicks(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`, '');
  if (stat === '') return undefined;
  // The command name is parenthesised and may itself contain spaces or ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** The boot id and this process's PID namespace; 'unknown' without /proc. */
function bootAndPidSpace(): string {
  const boot = readOr(BOOT_ID, '').trim();
  let namespace = '';
  try {
    namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
  } catch {
    // No /proc: nothing can be checked.
  }
  return boot === '' || namespace === '' ? 'unknown' : `${boot}.${namespace}`;
}

let current: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  current ??= {
    // Only characters that are safe in a file name and a container label.
    host: hostname().replace(/[^A-Za-z0-9._-]/g, '_'),
    boot: bootAndPidSpace(),
    pid: process.pid,
    start: startTicks(process.pid) ?? '',
  };
  return current;
}

/** The kernel's boot id of a `boot` field, without the PID namespace. */
export function bootIdOf(boot: string): string {
  return boot.split('.')[0];
}

/** `host/boot/pid/start`, one string for file names (with '/' as directory levels) and labels. */
export function processKey(identity: ProcessIdentity): string {
  return `${identity.host}/${identity.boot}/${identity.pid}/${identity.start}`;
}

export function parseProcessKey(key: string): ProcessIdentity | undefined {
  const match = /^([^/]+)\/([^/]+)\/(\d+)\/(\d*)$/.exec(key);
  return match === null ? undefined : { host: match[1], boot: match[2], pid: Number(match[3]), start: match[4] };
}

/**
 * Whether the process is certainly gone: its pid in this boot and PID namespace is unused or
 * belongs to a process started at another time. Undefined when that cannot be seen from here:
 * another host, another boot (an earlier one, or another machine of the same name), another
 * PID namespace, no /proc.
 */
export function processGone(identity: ProcessIdentity): boolean | undefined {
  const self = currentProcess();
  if (identity.host !== self.host || identity.boot !== self.boot || self.boot === 'unknown') return undefined;
  const start = startTicks(identity.pid);
  return start === undefined || start !== identity.start;
}
