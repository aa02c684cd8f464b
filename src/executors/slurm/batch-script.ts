/**
 * The batch script of one Slurm job, given to `sbatch` on stdin (so no file of it exists for
 * the job to change). It enters the job's working directory, opens the redirections, checks
 * that the command exists, and execs argv under `env -i` with exactly the JobSpec's
 * environment, so nothing of the server's environment (database URLs, keys) reaches the job.
 * A confined job's command is the wrapped one (`bwrap … -- argv`, `podman run … image argv`,
 * with the wrapper's own environment): the script then checks that the wrapper, and any
 * program it `requires` (slirp4netns for a sandbox's network), is installed on the node, and
 * the job's own command is looked up inside the sandbox or image.
 * Its last act is to write a status file (`<statusDir>/<id>.status`, written to a temporary
 * name and renamed, so a reader never sees half of it), where the id is the one the executor
 * tracks: `$SLURM_JOB_ID` for a plain job, `<array id>_<index>` for an element of a job array
 * (whose own `$SLURM_JOB_ID` squeue does not show):
 *
 *   exited <exit code> <start epoch ms> [<user s> <system s> <max RSS KiB>]
 *   failed-to-start <start epoch ms> <message…>
 *
 * The usage numbers come from GNU time (`/usr/bin/time`, the job's rusage: CPU of every
 * process it waited for, the largest resident set among them) when the node has it, run inside
 * whatever confines the job (`measuredSpec`: around bwrap it would see bwrap alone, whose PID 1
 * reaps the job) and writing to fd 3, which the script opens on `<id>.usage` (the job itself
 * gets fd 3 closed). Not for a container job: its processes are not the client's children, and
 * the image may lack GNU time. Without it, or without accounting storage for `sacct`, a Slurm
 * job's usage is unknown.
 *
 * A job array's batch script is `arrayScript`: it runs the element's own script, a file the
 * executor wrote in a directory of the array (so the job cannot alter it either: the state
 * directory lies in the data directory, which no job sees).
 *
 * Every user-controlled string (argv, env, paths) enters the script only inside single quotes
 * (`shellQuote`), where the shell interprets nothing: quotes, `$()`, backquotes and newlines
 * stay data.
 */
import type { JobSpec, WrappedCommand } from '../executor.js';

/** What the script really starts: the job's own argv and env, or a wrapper's. */
export type StartCommand = Pick<WrappedCommand, 'argv' | 'env' | 'requires'>;

export interface BatchScriptOptions {
  /** Defaults to `measuredSpec(spec)`, not wrapped. */
  readonly command?: StartCommand;
  /** The command runs in a container image: its own command is not looked up on the node, nor measured. */
  readonly containerized?: boolean;
}

export const STATUS_SUFFIX = '.status';
const USAGE_SUFFIX = '.usage';
const TEMPORARY_SUFFIX = '.tmp';
/** The script's files `<statusDir>/<id><suffix>`; a job killed midway leaves its usage file. */
export const FILE_SUFFIXES = [STATUS_SUFFIX, USAGE_SUFFIX, TEMPORARY_SUFFIX];
/** GNU time's format: user and system CPU seconds, maximum resident set in KiB. */
const USAGE_FORMAT = 'usage:%U:%S:%M';
const TIME = '/usr/bin/time';
const USAGE_FD = 3;

/**
 * The job's argv under GNU time (writing to fd 3, closed for the job), or as it is where the
 * node has no GNU time; what a wrapper should confine. The job's environment gets no PWD it
 * did not have (sh exports one).
 */
export function measuredSpec(spec: JobSpec): JobSpec {
  const unsetPwd = 'PWD' in spec.env ? '' : 'unset PWD; ';
  const job = `${unsetPwd}exec "$@" ${USAGE_FD}>&-`;
  const measured = `[ -x ${TIME} ] && exec ${TIME} -o /dev/fd/${USAGE_FD} -f ${shellQuote(USAGE_FORMAT)} -- /bin/sh -c ${shellQuote(job)} sh "$@"; ${job}`;
  return { ...spec, argv: ['/bin/sh', '-c', measured, 'sh', ...spec.argv] };
}

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
  const start: StartCommand = options.command ?? measuredSpec(spec);
  const measured = options.containerized !== true;
  const command = spec.argv[0] ?? '';
  const started = start.argv[0] ?? '';
  const q = shellQuote;
  const stdin = spec.stdinPath === undefined ? '/dev/null' : spec.stdinPath;
  const stderrRedirect = spec.stderrPath === spec.stdoutPath ? '2>&1' : `2>${q(spec.stderrPath)}`;
  const envArgs = Object.entries(start.env).map(([name, value]) => q(`${name}=${value}`));
  // The local executor's messages, so a job fails the same way wherever it runs.
  const cannot = (why: string): string => q(`cannot start ${command}: ${why}`);
  const notFound = (name: string): string => (name.includes('/') ? `command not found: ${name}` : `command not found on PATH: ${name}`);
  // A wrapper missing on the node is the cluster's fault, not the job's: said so, never run without it.
  const noWrapper = (name: string): string => `${q(`cannot start ${command}: ${name} is not installed on Slurm node `)}"$(hostname)"${q(` (${notFound(name)})`)}`;
  const wrapperPrograms = [...(started === command ? [] : [started]), ...(start.requires ?? [])];
  return [
    '#!/bin/sh',
    `# wes-server job ${JSON.stringify(spec.id).replace(/\n/g, ' ')}`,
    'PATH=/usr/local/bin:/usr/bin:/bin; export PATH',
    'started=$(date +%s%3N)',
    'if [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then id=${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID; else id=$SLURM_JOB_ID; fi',
    `status=${q(statusDir)}/"$id"`,
    `report() { printf '%s\\n' "$1" >"$status${TEMPORARY_SUFFIX}" && mv -f "$status${TEMPORARY_SUFFIX}" "$status${STATUS_SUFFIX}"; exit 0; }`,
    'fail() { report "failed-to-start $started $1"; }',
    // The search follows the PATH given, as execvp in `env` will.
    `found() ( case $1 in */*) [ -f "$1" ] && [ -x "$1" ];; *) IFS=:; for d in $2; do [ -f "$d/$1" ] && [ -x "$d/$1" ] && exit 0; done; exit 1;; esac )`,
    `cd ${q(spec.cwd)} 2>/dev/null || fail ${cannot(`working directory ${spec.cwd} is not a directory`)}`,
    `[ -r ${q(stdin)} ] || fail ${cannot(`cannot open stdin ${stdin}`)}`,
    // Plain builtins (not `:`), so a failed redirection is a status and not the end of the script.
    `true >${q(spec.stdoutPath)} 2>/dev/null || fail ${cannot(`cannot open stdout ${spec.stdoutPath}`)}`,
    `true >${q(spec.stderrPath)} 2>/dev/null || fail ${cannot(`cannot open stderr ${spec.stderrPath}`)}`,
    // In a container the command is the image's, not the node's.
    ...(measured ? [`found ${q(command)} ${q(spec.env.PATH ?? '')} || fail ${q(notFound(command))}`] : []),
    ...wrapperPrograms.map((name) => `found ${q(name)} ${q(start.env.PATH ?? '')} || fail ${noWrapper(name)}`),
    // `sh -c exec` rather than env's own exec so that an argv[0] containing '=' is not taken
    // for an assignment; sh exports PWD itself, which the job's environment does not have.
    `/usr/bin/env -i -- ${envArgs.join(' ')} /bin/sh -c ${q(`${'PWD' in start.env ? '' : 'unset PWD; '}exec "$@"`)} sh ${start.argv.map(q).join(' ')} <${q(stdin)} >${q(spec.stdoutPath)} ${stderrRedirect}${measured ? ` ${USAGE_FD}>"$status${USAGE_SUFFIX}"` : ''}`,
    // GNU time puts "Command exited with non-zero status …" lines before its own.
    `code=$?; usage=$(tail -n 1 "$status${USAGE_SUFFIX}" 2>/dev/null | sed -n 's/^usage://p' | tr ':' ' '); rm -f "$status${USAGE_SUFFIX}"`,
    'report "exited $code $started${usage:+ $usage}"',
    '',
  ].join('\n');
}

/** The batch script of a job array whose element i runs `<scriptDir>/<i>.sh`; `title` goes in a comment. */
export function arrayScript(scriptDir: string, title: string): string {
  return [
    '#!/bin/sh',
    `# wes-server ${JSON.stringify(title)}`,
    `exec /bin/sh ${shellQuote(scriptDir)}/"$SLURM_ARRAY_TASK_ID".sh`,
    '',
  ].join('\n');
}
