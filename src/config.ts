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
  /** Public base URL used in absolute links (task_logs_url, stdout); derived from the request when unset. */
  readonly publicUrl?: string;
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
    allowedWorkflowUrlPrefixes: (env.WES_ALLOWED_WORKFLOW_URLS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    publicUrl: env.WES_PUBLIC_URL === undefined || env.WES_PUBLIC_URL === '' ? undefined : env.WES_PUBLIC_URL.replace(/\/+$/, ''),
    ...overrides,
  };
}
