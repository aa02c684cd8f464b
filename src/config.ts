/**
 * The one typed configuration of the server, read from the environment (and CLI flags that
 * override it). Nothing else in the project reads process.env.
 */
import path from 'node:path';
import os from 'node:os';

export interface Config {
  /** Directory for the SQLite file, run directories and job logs. */
  readonly dataDir: string;
  /** postgres://… selects PostgreSQL; undefined means embedded SQLite at <dataDir>/wes.sqlite. */
  readonly databaseUrl?: string;
  readonly host: string;
  readonly port: number;
  /** When true every request acts as the single local user; for a one-person local server. */
  readonly noAuth: boolean;
  /** At most this many jobs run at once. */
  readonly maxJobs: number;
  /**
   * URL prefixes a workflow may be loaded from besides the run's own attachments
   * (WES_ALLOWED_WORKFLOW_URLS, comma-separated; e.g. "https://raw.githubusercontent.com/").
   */
  readonly allowedWorkflowUrlPrefixes: readonly string[];
  /**
   * Public base URL used in absolute links (task_logs_url, stdout) (WES_PUBLIC_URL); when unset,
   * from the Host header if it is the listening address or a trusted host (api/base-url.ts).
   */
  readonly publicUrl?: string;
  /**
   * Host directories users may name as `file://` or absolute-path inputs (WES_ALLOWED_INPUT_DIRS,
   * comma-separated absolute paths); empty means only a run's own attachments and outputs.
   */
  readonly allowedInputDirs: readonly string[];
  /**
   * How jobs without a container are confined (WES_JOB_SANDBOX): 'bwrap' (bubblewrap), 'none'
   * (the operator accepts unconfined jobs), or undefined: bwrap when installed, otherwise
   * unconfined jobs with a single user only.
   */
  readonly jobSandbox?: 'bwrap' | 'none';
  /** Most processes (and threads) one sandboxed job may have at once (WES_JOB_MAX_PROCESSES). */
  readonly jobMaxProcesses: number;
  /**
   * Host directories sandboxed jobs see read-only besides the system ones, e.g. a conda or
   * module tree (WES_JOB_READ_ONLY_DIRS, comma-separated absolute paths).
   */
  readonly jobReadOnlyDirs: readonly string[];
  /** Container engine for DockerRequirement (WES_CONTAINER_ENGINE); undefined: podman, else docker, when installed. */
  readonly containerEngine?: 'podman' | 'docker';
  /** Most active (not finished) runs per user that execute at once (WES_MAX_RUNS_PER_USER); more wait QUEUED. */
  readonly maxRunsPerUser: number;
  /** Most runs this server drives at once (WES_MAX_RUNS); further runs wait QUEUED for any server with room. */
  readonly maxRuns: number;
  /** How long a server's lease on its runs lasts without a heartbeat (WES_LEASE_SECONDS); others take them over after it. */
  readonly leaseSeconds: number;
  /** Most running jobs per user (WES_MAX_JOBS_PER_USER). */
  readonly maxJobsPerUser: number;
  /** Largest POST /runs body in bytes, all attachments and fields together (WES_MAX_UPLOAD_BYTES). */
  readonly maxUploadBytes: number;
  /** Largest http(s) input file downloaded for a run, in bytes (WES_MAX_INPUT_BYTES). */
  readonly maxInputBytes: number;
  /** Let http(s) inputs name loopback, link-local and private addresses (WES_ALLOW_PRIVATE_INPUT_URLS). */
  readonly allowPrivateInputUrls: boolean;
  /** Host headers (host or host:port) accepted for absolute links when publicUrl is unset (WES_TRUSTED_HOSTS). */
  readonly trustedHosts: readonly string[];
  /** Wall-clock limit of one CWL expression evaluation, in ms (WES_EXPRESSION_TIMEOUT_MS). */
  readonly expressionTimeoutMs: number;
  /** Memory limit of one CWL expression evaluation, in bytes (WES_EXPRESSION_MEMORY_MB, in MiB). */
  readonly expressionMemoryBytes: number;
  /** Failed authentications from one client address per window before 429s (WES_AUTH_FAILURE_LIMIT). */
  readonly authFailureLimit: number;
  /** Length of that window in seconds (WES_AUTH_FAILURE_WINDOW_SECONDS). */
  readonly authFailureWindowSeconds: number;
  /** Browser origins allowed to call the API (WES_CORS_ORIGINS, comma-separated, or `*`); empty: CORS off. */
  readonly corsOrigins: readonly string[];
  /** service-info `contactUrl` and `documentationUrl` (WES_CONTACT_URL, WES_DOCUMENTATION_URL); default: the dashboard. */
  readonly contactUrl?: string;
  readonly documentationUrl?: string;
  /** service-info `environment` (WES_ENVIRONMENT: prod, test, dev, staging…). */
  readonly environment: string;
  /** What runs jobs (WES_EXECUTOR): 'local' child processes, or 'slurm' batch jobs (sbatch). */
  readonly executor: 'local' | 'slurm';
  readonly slurm: SlurmConfig;
}

/** Settings of the Slurm executor; ignored by the local one. */
export interface SlurmConfig {
  /** sbatch --partition (WES_SLURM_PARTITION); the cluster's default when unset. */
  readonly partition?: string;
  /** sbatch --account (WES_SLURM_ACCOUNT). */
  readonly account?: string;
  /** More sbatch arguments, whitespace-separated, after ours (WES_SLURM_SBATCH_ARGS, e.g. "--qos=long --exclusive"). */
  readonly sbatchArgs: readonly string[];
  /** Milliseconds between two squeue polls (WES_SLURM_POLL_MS); one call per poll for all jobs. */
  readonly pollIntervalMs: number;
  /** Most jobs in Slurm at once, queued or running (WES_SLURM_MAX_JOBS); more wait in the server. */
  readonly maxJobs: number;
  /**
   * Most jobs in one Slurm job array (WES_SLURM_MAX_ARRAY_SIZE); the executor lowers it to the
   * cluster's MaxArraySize at start. 1: every job a plain batch job.
   */
  readonly maxArraySize: number;
}

function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`WES_PORT must be an integer between 0 and 65535, got "${value}"`);
  }
  return port;
}

function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${value}"`);
  return n;
}

function parseList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseChoice<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new Error(`${name} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}

function parseAbsoluteDirs(name: string, value: string | undefined): string[] {
  return parseList(value).map((dir) => {
    if (!path.isAbsolute(dir)) throw new Error(`${name} entries must be absolute paths, got "${dir}"`);
    return path.resolve(dir);
  });
}

function parseOptional(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parseFlag(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const databaseUrl = env.DATABASE_URL === undefined || env.DATABASE_URL === '' ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must start with postgres:// or postgresql:// (leave it unset for SQLite)');
  }
  return {
    dataDir: path.resolve(env.WES_DATA_DIR ?? './data'),
    databaseUrl,
    host: env.WES_HOST ?? '127.0.0.1',
    port: parsePort(env.WES_PORT, 8080),
    noAuth: parseFlag(env.WES_NO_AUTH),
    maxJobs: parsePositiveInt('WES_MAX_JOBS', env.WES_MAX_JOBS, os.availableParallelism()),
    allowedWorkflowUrlPrefixes: parseList(env.WES_ALLOWED_WORKFLOW_URLS),
    publicUrl: env.WES_PUBLIC_URL === undefined || env.WES_PUBLIC_URL === '' ? undefined : env.WES_PUBLIC_URL.replace(/\/+$/, ''),
    allowedInputDirs: parseAbsoluteDirs('WES_ALLOWED_INPUT_DIRS', env.WES_ALLOWED_INPUT_DIRS),
    jobSandbox: parseChoice('WES_JOB_SANDBOX', env.WES_JOB_SANDBOX, ['bwrap', 'none'] as const),
    jobMaxProcesses: parsePositiveInt('WES_JOB_MAX_PROCESSES', env.WES_JOB_MAX_PROCESSES, 1024),
    jobReadOnlyDirs: parseAbsoluteDirs('WES_JOB_READ_ONLY_DIRS', env.WES_JOB_READ_ONLY_DIRS),
    containerEngine: parseChoice('WES_CONTAINER_ENGINE', env.WES_CONTAINER_ENGINE, ['podman', 'docker'] as const),
    maxRunsPerUser: parsePositiveInt('WES_MAX_RUNS_PER_USER', env.WES_MAX_RUNS_PER_USER, 10),
    maxRuns: parsePositiveInt('WES_MAX_RUNS', env.WES_MAX_RUNS, 1000),
    leaseSeconds: parsePositiveInt('WES_LEASE_SECONDS', env.WES_LEASE_SECONDS, 30),
    maxJobsPerUser: parsePositiveInt('WES_MAX_JOBS_PER_USER', env.WES_MAX_JOBS_PER_USER, os.availableParallelism()),
    maxUploadBytes: parsePositiveInt('WES_MAX_UPLOAD_BYTES', env.WES_MAX_UPLOAD_BYTES, 1024 * 1024 * 1024),
    maxInputBytes: parsePositiveInt('WES_MAX_INPUT_BYTES', env.WES_MAX_INPUT_BYTES, 10 * 1024 * 1024 * 1024),
    allowPrivateInputUrls: parseFlag(env.WES_ALLOW_PRIVATE_INPUT_URLS),
    trustedHosts: parseList(env.WES_TRUSTED_HOSTS),
    expressionTimeoutMs: parsePositiveInt('WES_EXPRESSION_TIMEOUT_MS', env.WES_EXPRESSION_TIMEOUT_MS, 20_000),
    expressionMemoryBytes: parsePositiveInt('WES_EXPRESSION_MEMORY_MB', env.WES_EXPRESSION_MEMORY_MB, 64) * 1024 * 1024,
    authFailureLimit: parsePositiveInt('WES_AUTH_FAILURE_LIMIT', env.WES_AUTH_FAILURE_LIMIT, 10),
    authFailureWindowSeconds: parsePositiveInt('WES_AUTH_FAILURE_WINDOW_SECONDS', env.WES_AUTH_FAILURE_WINDOW_SECONDS, 60),
    corsOrigins: parseList(env.WES_CORS_ORIGINS),
    contactUrl: env.WES_CONTACT_URL || undefined,
    documentationUrl: env.WES_DOCUMENTATION_URL || undefined,
    environment: env.WES_ENVIRONMENT || 'prod',
    executor: parseChoice('WES_EXECUTOR', env.WES_EXECUTOR, ['local', 'slurm'] as const) ?? 'local',
    slurm: {
      partition: parseOptional(env.WES_SLURM_PARTITION),
      account: parseOptional(env.WES_SLURM_ACCOUNT),
      sbatchArgs: (env.WES_SLURM_SBATCH_ARGS ?? '').split(/\s+/).filter((arg) => arg !== ''),
      pollIntervalMs: parsePositiveInt('WES_SLURM_POLL_MS', env.WES_SLURM_POLL_MS, 2000),
      maxJobs: parsePositiveInt('WES_SLURM_MAX_JOBS', env.WES_SLURM_MAX_JOBS, 1000),
      maxArraySize: parsePositiveInt('WES_SLURM_MAX_ARRAY_SIZE', env.WES_SLURM_MAX_ARRAY_SIZE, 1000),
    },
    ...overrides,
  };
}
