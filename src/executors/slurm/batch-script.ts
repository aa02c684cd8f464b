/**
 * The batch script of one Slurm job, given to `sbatch` on stdin (so no file of it exists for
 * the job to change). It enters the job's working directory, opens the redirections, checks
 * that the command exists, and execs argv under `env -i` with exactly the JobSpec's
 * environment, so nothing of the server's environment (database URLs, keys) reaches the job.
 * A confined job's command is the wrapped one (`bwrap … -- argv`, `podman run … image argv`,
 * with the wrapper's own environment): the script then checks that the wrapper is installed
 * on the node, and the job's own command is looked up inside the sandbox or image.
 * Its last act is to write a status file (`<statusDir>/<SLURM_JOB_ID>.status`, written to a
 * temporary name and renamed, so a reader never sees half of it):
 *
 *   exited <exit code> <start epoch ms> [<user s> <system s> <max RSS KiB>]
 *   failed-to-start <start epoch ms> <message…>
 *
 * The usage numbers come from GNU time (`/usr/bin/time`, the job's rusage: CPU of every
 * process it waited for, the largest resident set among them) when the node has it and the
 * caller asks for them; without it, or without accounting storage for `sacct`, a Slurm job's
 * usage is unknown. (Around a wrapper it would measure the wrapper alone: bubblewrap's PID 1
 * reaps the job, and a container's processes are not the client's children.)
 *
 * Every user-controlled string (argv, env, paths) enters the script only inside single quotes
 * (`shellQuote`), where the shell interprets nothing: quotes, `$()`, backquotes and newlines
 * stay data.
 */
import type { JobSpec, WrappedCommand } from '../executor.js';

/** What the script really starts: the job's own argv and env, or a wrapper's. */
export type StartCommand = Pick<WrappedCommand, 'argv' | 'env'>;

export interface BatchScriptOptions {
  /** Defaults to the spec's own argv and env. */
  readonly command?: StartCommand;
  /** Run it under GNU time for the usage numbers; defaults to true. */
  readonly measureUsage?: boolean;
}

export const STATUS_SUFFIX = '.status';
/** GNU time's format: user and system CPU seconds, maximum resident set in KiB. */
const USAGE_FORMAT = 'usage:%U:%S:%M';

/** POSIX single-quoting: the only character to escape inside '…' is ' itself. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Why the script cannot be written (the shell cannot carry a NUL byte), or undefined. */
export function unscriptable(spec: JobSpec, command: StartCommand = spec): string | undefined {
  const env = { ...spec.env, ...command.env };
  const strings = [...spec.argv, ...command.argv, spec.cwd, spec.stdoutPath, spec.stderrPath, spec.stdinPath ?? '', ...Object.entries(env).flat()];
  if (strings.some((s) => s.includes('\0'))) return `job ${spec.id} has a NUL byte in its command line, environment or paths`;
  const badName = Object.keys(env).find((name) => name === '' || name.includes('='));
  if (badName !== undefined) return `job ${spec.id} has an invalid environment variable name ${JSON.stringify(badName)}`;
  return undefined;
}

export function batchScript(spec: JobSpec, statusDir: string, options: BatchScriptOptions = {}): string {
  const start = options.command ?? spec;
  const command = spec.argv[0] ?? '';
  const started = start.argv[0] ?? '';
  const q = shellQuote;
  const stdin = spec.stdinPath === undefined ? '/dev/null' : spec.stdinPath;
  const stderrRedirect = spec.stderrPath === spec.stdoutPath ? '2>&1' : `2>${q(spec.stderrPath)}`;
  const envArgs = Object.entries(start.env).map(([name, value]) => q(`${name}=${value}`));
  // The local executor's messages, so a job fails the same way wherever it runs.
  const cannot = (why: string): string => q(`cannot start ${command}: ${why}`);
  const notFound = started.includes('/') ? `command not found: ${started}` : `command not found on PATH: ${started}`;
  // A wrapper missing on the node is the cluster's fault, not the job's: said so, never run without it.
  const missing =
    start === spec ? q(notFound) : `${q(`cannot start ${command}: ${started} is not installed on Slurm node `)}"$(hostname)"${q(` (${notFound})`)}`;
  return [
    '#!/bin/sh',
    `# wes-server job ${JSON.stringify(spec.id).replace(/\n/g, ' ')}`,
    'PATH=/usr/local/bin:/usr/bin:/bin; export PATH',
    'started=$(date +%s%3N)',
    `status=${q(statusDir)}/"$SLURM_JOB_ID"`,
    `report() { printf '%s\\n' "$1" >"$status.tmp" && mv -f "$status.tmp" "$status${STATUS_SUFFIX}"; exit 0; }`,
    'fail() { report "failed-to-start $started $1"; }',
    // The search follows the started command's PATH (the job's own, or the wrapper's), as execvp in `env` will.
    `found() ( case $1 in */*) [ -f "$1" ] && [ -x "$1" ];; *) IFS=:; for d in $2; do [ -f "$d/$1" ] && [ -x "$d/$1" ] && exit 0; done; exit 1;; esac )`,
    `cd ${q(spec.cwd)} 2>/dev/null || fail ${cannot(`working directory ${spec.cwd} is not a directory`)}`,
    `[ -r ${q(stdin)} ] || fail ${cannot(`cannot open stdin ${stdin}`)}`,
    // Plain builtins (not `:`), so a failed redirection is a status and not the end of the script.
    `true >${q(spec.stdoutPath)} 2>/dev/null || fail ${cannot(`cannot open stdout ${spec.stdoutPath}`)}`,
    `true >${q(spec.stderrPath)} 2>/dev/null || fail ${cannot(`cannot open stderr ${spec.stderrPath}`)}`,
    `found ${q(started)} ${q(start.env.PATH ?? '')} || fail ${missing}`,
    // `sh -c exec` rather than env's own exec so that an argv[0] containing '=' is not taken
    // for an assignment; sh exports PWD itself, which the job's environment does not have.
    'measured() { "$@"; }',
    ...(options.measureUsage === false ? [] : [`[ -x /usr/bin/time ] && measured() { /usr/bin/time -o "$status.usage" -f ${q(USAGE_FORMAT)} "$@"; }`]),
    `measured /usr/bin/env -i -- ${envArgs.join(' ')} /bin/sh -c ${q(`${'PWD' in start.env ? '' : 'unset PWD; '}exec "$@"`)} sh ${start.argv.map(q).join(' ')} <${q(stdin)} >${q(spec.stdoutPath)} ${stderrRedirect}`,
    // GNU time puts "Command exited with non-zero status …" lines before its own.
    `code=$?; usage=$(tail -n 1 "$status.usage" 2>/dev/null | sed -n 's/^usage://p' | tr ':' ' '); rm -f "$status.usage"`,
    'report "exited $code $started${usage:+ $usage}"',
    '',
  ].join('\n');
}
