/**
 * The container engine's command-line client (podman or docker), found once at start-up and
 * then called with argument lists (never through a shell) to manage images and containers.
 * Podman is preferred where both are installed: it needs no daemon and runs each container as
 * a child of its own client, so a job's container lives exactly as long as `podman run`.
 */
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';

export type ContainerEngineName = 'podman' | 'docker';

export interface EngineOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Resource limits every container is started with (`--ulimit name=n:n`). */
export interface ContainerUlimits {
  readonly nofile?: number;
  readonly nproc?: number;
}

export class ContainerEngine {
  /** Which CLI this is; flags differ slightly between the two. */
  readonly name: ContainerEngineName;
  /** Absolute path of the client binary. */
  readonly binary: string;
  /** First line of `<engine> --version`, for service-info and the start-up log. */
  readonly version: string;
  /** Flags placed before every subcommand (e.g. `--runtime runc`). */
  readonly globalArgs: readonly string[];
  /** Explicit rlimits for containers; see containerUlimits. */
  readonly ulimits: ContainerUlimits;
  /** Environment of the client process: the server's own, never a job's. */
  readonly env: Readonly<Record<string, string>>;

  constructor(fields: {
    name: ContainerEngineName;
    binary: string;
    version: string;
    globalArgs: readonly string[];
    ulimits: ContainerUlimits;
    env: Readonly<Record<string, string>>;
  }) {
    this.name = fields.name;
    this.binary = fields.binary;
    this.version = fields.version;
    this.globalArgs = fields.globalArgs;
    this.ulimits = fields.ulimits;
    this.env = fields.env;
  }

  /** Runs `<engine> <globalArgs> <args>` to its end; never rejects (a failed start is code 127). */
  exec(args: readonly string[], timeoutMs = 0): Promise<EngineOutput> {
    return runCommand(this.binary, [...this.globalArgs, ...args], this.env, timeoutMs);
  }
}

function runCommand(
  binary: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<EngineOutput> {
  return new Promise((resolve) => {
    execFile(binary, args, { env: { ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 127;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (error?.message ?? '') });
    });
  });
}

async function findOnPath(command: string, pathValue: string): Promise<string | undefined> {
  for (const dir of pathValue.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** Soft limit of one resource of this process from /proc/self/limits, undefined if unknown. */
function softLimit(limits: string, label: string): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith(label));
  const soft = line?.slice(label.length).trim().split(/\s+/)[0];
  return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
}

// Podman lowers its own RLIMIT_NPROC to this before starting the OCI runtime, and the runtime
// cannot raise a container's limit above its own hard limit (without CAP_SYS_RESOURCE it gets
// "setrlimit … operation not permitted").
const PODMAN_NPROC_CEILING = 32768;

/**
 * Without explicit `--ulimit`s podman asks the runtime for its own defaults (1048576 open files,
 * unlimited processes), which fails where the server lacks CAP_SYS_RESOURCE (measured here:
 * "error setting rlimit type 7: operation not permitted"). The server's own soft limits always
 * fit, so containers get those.
 */
async function containerUlimits(): Promise<ContainerUlimits> {
  let limits: string;
  try {
    limits = await readFile('/proc/self/limits', 'utf8');
  } catch {
    return {};
  }
  const nofile = softLimit(limits, 'Max open files');
  const nproc = softLimit(limits, 'Max processes');
  return { nofile, nproc: Math.min(nproc ?? PODMAN_NPROC_CEILING, PODMAN_NPROC_CEILING) };
}

/**
 * Podman's default OCI runtime, crun, refuses hosts with hybrid cgroups ("cgroups in hybrid
 * mode not supported"); runc works there. Hybrid or v1 means no unified cgroup.controllers file.
 */
async function podmanRuntimeArgs(pathValue: string): Promise<string[]> {
  const unified = await access('/sys/fs/cgroup/cgroup.controllers').then(() => true, () => false);
  if (unified) return [];
  const runc = await findOnPath('runc', `${pathValue}${delimiter}/usr/sbin${delimiter}/usr/bin`);
  return runc === undefined ? [] : ['--runtime', runc];
}

/**
 * Looks for the engine once (`<engine> --version`): the one asked for, or podman then docker.
 * Undefined when none answers; `problem` then says what to install.
 */
export async function detectContainerEngine(
  env: NodeJS.ProcessEnv,
  wanted?: ContainerEngineName,
): Promise<{ engine: ContainerEngine } | { engine: undefined; problem: string }> {
  const pathValue = env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  const clientEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) clientEnv[key] = value;
  const tried: string[] = [];
  for (const name of wanted === undefined ? (['podman', 'docker'] as const) : [wanted]) {
    const binary = await findOnPath(name, pathValue);
    if (binary === undefined) {
      tried.push(`${name}: not installed`);
      continue;
    }
    // docker's client answers --version without a daemon, so docker also proves it can list.
    const probe = await runCommand(binary, name === 'docker' ? ['version', '--format', '{{.Server.Version}}'] : ['--version'], clientEnv, 15000);
    if (probe.code !== 0) {
      tried.push(`${name}: ${probe.stderr.trim().split('\n')[0] ?? `exit code ${probe.code}`}`);
      continue;
    }
    const firstLine = probe.stdout.trim().split('\n')[0] ?? '';
    const engine = new ContainerEngine({
      name,
      binary,
      version: name === 'docker' ? `docker ${firstLine}` : firstLine,
      globalArgs: name === 'podman' ? await podmanRuntimeArgs(pathValue) : [],
      ulimits: await containerUlimits(),
      env: clientEnv,
    });
    return { engine };
  }
  return {
    engine: undefined,
    problem: `no container engine (${tried.join('; ')}); install podman (apt-get install podman runc slirp4netns) to run DockerRequirement tools`,
  };
}
