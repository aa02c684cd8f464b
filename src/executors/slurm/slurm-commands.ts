/**
 * The Slurm client commands the executor uses, run as child processes and parsed:
 * `sbatch --parsable` (script on stdin) → job id, one `squeue` for every job of this user →
 * state and start time per job id, one `scancel` for any number of ids, and `scontrol show
 * config` for the cluster's MaxArraySize. The command paths are options so that an operator
 * can point at wrappers (and tests can count calls).
 *
 * A job id is a plain job's `<id>` or an array element's `<array id>_<index>`, as squeue
 * prints it with `--array` (one line per element) and as scancel takes it.
 */
import { spawn } from 'node:child_process';

export interface SlurmCommandPaths {
  readonly sbatch: string;
  readonly squeue: string;
  readonly scancel: string;
  /** Reads the cluster's limits; defaults to `scontrol`. */
  readonly scontrol?: string;
}

/** Job ids per scancel call, well below the kernel's limits on argument lists. */
const CANCEL_BATCH = 1000;

/** A plain job's id or an array element's (`123`, `123_4`). */
export const SLURM_JOB_ID = /^\d+(?:_\d+)?$/;

export const DEFAULT_COMMANDS: SlurmCommandPaths = { sbatch: 'sbatch', squeue: 'squeue', scancel: 'scancel', scontrol: 'scontrol' };

export interface SlurmJobState {
  /** Slurm's long state name: PENDING, RUNNING, COMPLETED, CANCELLED, TIMEOUT, … */
  readonly state: string;
  /** When it started (or is expected to, while pending); undefined when Slurm gives none. */
  readonly startTime?: Date;
}

/** States of a job that has not ended; anything else is final. */
const ACTIVE_STATES = new Set([
  'PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT',
  'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESIZING', 'RESV_DEL_HOLD', 'SPECIAL_EXIT',
]);
/** Active states in which the batch script has been started. */
const STARTED_STATES = new Set(['RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT']);

export function isActive(state: string): boolean {
  return ACTIVE_STATES.has(state);
}

export function hasStarted(state: string): boolean {
  return STARTED_STATES.has(state);
}

interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], stdin = ''): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (err) => resolve({ code: null, stdout, stderr: `cannot run ${command}: ${err.message}` }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    // A command that exits before reading its stdin must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

function failure(command: string, result: CommandResult): Error {
  const detail = result.stderr.trim() || `exit status ${result.code}`;
  return new Error(`${command}: ${detail.replace(/^sbatch: error: /gm, '')}`);
}

export class SlurmCommands {
  readonly #paths: SlurmCommandPaths;

  constructor(paths: SlurmCommandPaths = DEFAULT_COMMANDS) {
    this.#paths = paths;
  }

  /** Rejects, saying what to install, unless every command runs (`--version`). */
  async check(): Promise<void> {
    for (const [name, command] of Object.entries(this.#paths)) {
      if (command === undefined) continue;
      const result = await run(command, ['--version']);
      if (result.code !== 0) {
        throw new Error(`WES_EXECUTOR=slurm needs ${name} (${command}) on PATH, e.g. from Debian's slurm-client: ${result.stderr.trim()}`);
      }
    }
  }

  /** Submits `script` with `args`; resolves to the job id; rejects with sbatch's message. */
  async submit(script: string, args: readonly string[]): Promise<string> {
    const result = await run(this.#paths.sbatch, ['--parsable', ...args], script);
    // --parsable prints "<id>" or "<id>;<cluster>".
    const id = result.stdout.trim().split(';')[0];
    if (result.code !== 0 || !/^\d+$/.test(id)) throw failure('sbatch', result);
    return id;
  }

  /**
   * Every job of this user the controller still knows (finished ones for MinJobAge), array
   * elements one by one (pending ones would otherwise show as one `123_[0-99]` line): one
   * squeue call whatever their number. Rejects when the controller does not answer.
   */
  async states(): Promise<Map<string, SlurmJobState>> {
    const result = await run(this.#paths.squeue, ['--me', '--array', '--noheader', '--states=all', '--format=%i|%T|%S']);
    if (result.code !== 0) throw failure('squeue', result);
    const states = new Map<string, SlurmJobState>();
    for (const line of result.stdout.split('\n')) {
      const [id, state, start] = line.trim().split('|');
      if (id === undefined || state === undefined || id === '') continue;
      // Slurm prints local time without a zone, which Date reads as local time too.
      const startTime = start !== undefined && /^\d{4}-\d\d-\d\dT/.test(start) ? new Date(start) : undefined;
      states.set(id, startTime === undefined || Number.isNaN(startTime.getTime()) ? { state } : { state, startTime });
    }
    return states;
  }

  /**
   * The cluster's MaxArraySize: array indexes stay below it, so it is the most jobs one array
   * may have (0: no arrays). Undefined when the controller does not answer or does not say.
   */
  async maxArraySize(): Promise<number | undefined> {
    const result = await run(this.#paths.scontrol ?? 'scontrol', ['show', 'config']);
    const value = result.code === 0 ? /^MaxArraySize\s*=\s*(\d+)\s*$/m.exec(result.stdout)?.[1] : undefined;
    return value === undefined ? undefined : Number(value);
  }

  /** Cancels the jobs (one call per CANCEL_BATCH ids); ids Slurm no longer knows are not an error. */
  async cancel(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CANCEL_BATCH) {
      const result = await run(this.#paths.scancel, ids.slice(i, i + CANCEL_BATCH));
      // scancel reports already-finished or unknown jobs on stderr and may exit non-zero; the
      // next squeue shows what really happened to each job.
      if (result.code === null) throw failure('scancel', result);
    }
  }
}
