/**
 * Starts a job that names a container image as `podman run` (or `docker run`) of that image:
 * the job's mounts and nothing else of the host's files, its working directory, its own
 * environment only, the server's uid:gid (outputs stay owned by the server), no capabilities,
 * no network unless the job may have one (then slirp4netns without the host's loopback), its
 * cores, RAM and a process count as cgroup limits. The client process leads the job's process
 * group as any job does; because killing the client does not stop the container, stop() and
 * cleanup() remove it by its name, so nothing of the job is left in `podman ps -a`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CommandWrapper, JobSpec, Mount, WrappedCommand } from '../executor.js';
import type { ContainerEngine } from './container-engine.js';
import { ImageStore } from './image-store.js';
import { currentProcess, parseProcessKey, processGone, processKey } from '../local/process-identity.js';
import type { LiveServers } from '../local/group-registry.js';
import { JobCgroups, USAGE_CONTROLLERS, type JobCgroup } from '../sandbox/job-cgroups.js';

export interface ContainerWrapperOptions {
  /** Most processes a job's container may hold at once (`--pids-limit`). */
  readonly pidsLimit?: number;
  /** uid:gid the job runs as; defaults to the server's own. */
  readonly user?: string;
  /** The container is started by a batch job on a cluster node, which owns it (forBatchJobs). */
  readonly batch?: boolean;
  /**
   * Measure each container's CPU time and peak memory (podman as root with writable cgroup v1
   * hierarchies); default true. False where the container does not run on this host (a batch
   * job): the groups made here would measure nothing.
   */
  readonly measure?: boolean;
}

const DEFAULT_PIDS_LIMIT = 4096;
/** Names the per-container parent groups; the server's pid follows, so a later server reaps what a crash left. */
const USAGE_PREFIX = 'wes-container';

/** Label every job container carries, its value the job's id. */
export const JOB_LABEL = 'org.wes-server.job';
/** Label naming the server process that started the container (process-identity.ts processKey). */
export const SERVER_LABEL = 'org.wes-server.server';
/** SERVER_LABEL of a batch job's container: its Slurm job owns it, not a server, so no server removes it as left over. */
const BATCH_JOB = 'batch-job';
/**
 * What of the server's environment the client gets on a batch node, where it is written into
 * the batch script: what podman and docker read, never the server's settings or secrets.
 */
const NODE_CLIENT_ENV = /^(PATH|HOME|USER|LOGNAME|TMPDIR|XDG_[A-Z_]+|CONTAINERS_[A-Z_]+|DOCKER_[A-Z_]+|REGISTRY_AUTH_FILE|(https?|no)_proxy|(HTTPS?|NO)_PROXY)$/;

/** One `--mount` value; fields are CSV, so paths with commas or quotes are quoted. */
function mountFlag(mount: Mount): string {
  const field = (key: string, value: string): string => {
    if (/[\n\r\0]/.test(value)) throw new Error(`cannot mount a path with a line break or NUL: ${JSON.stringify(value)}`);
    const text = `${key}=${value}`;
    return /[",]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return ['type=bind', field('source', mount.hostPath), field('destination', mount.jobPath), `ro=${String(!mount.writable)}`].join(',');
}

/** Where the host directory `cwd` appears in the container: through the mount holding it. */
function workdirOf(cwd: string, mounts: readonly Mount[]): string {
  let best: Mount | undefined;
  for (const m of mounts) {
    const inside = cwd === m.hostPath || cwd.startsWith(`${m.hostPath}/`);
    // The deepest mount wins; among equals, the one seen under another name (dockerOutputDirectory).
    if (inside && (best === undefined || m.hostPath.length > best.hostPath.length || (m.hostPath.length === best.hostPath.length && m.jobPath !== m.hostPath))) best = m;
  }
  if (best === undefined) throw new Error(`working directory ${cwd} is not mounted in the container`);
  return best.jobPath + cwd.slice(best.hostPath.length);
}

/** Kills (no grace: the job is being stopped) and removes a container. */
function removeArgs(engine: ContainerEngine, name: string): string[] {
  return engine.name === 'podman' ? ['rm', '--force', '--time', '0', name] : ['rm', '--force', name];
}

export class ContainerWrapper implements CommandWrapper {
  readonly #engine: ContainerEngine;
  readonly #images: ImageStore;
  readonly #pidsLimit: number;
  readonly #user: string;
  readonly #options: ContainerWrapperOptions;
  /** Found on the first container job; undefined where containers are not measured. */
  #usageGroups: Promise<JobCgroups | undefined> | undefined;

  constructor(engine: ContainerEngine, images: ImageStore, options: ContainerWrapperOptions = {}) {
    this.#engine = engine;
    this.#images = images;
    this.#options = options;
    this.#pidsLimit = options.pidsLimit ?? DEFAULT_PIDS_LIMIT;
    this.#user = options.user ?? `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
    if (options.measure === false || engine.name !== 'podman') this.#usageGroups = Promise.resolve(undefined);
  }

  /**
   * The container's parent group, made at the hierarchies' roots so that `--cgroup-parent` names
   * it in all of them: memory and cpuacct count a group's descendants, so the parent holds the
   * container's CPU time and peak memory after its runtime removed the container's own groups.
   * The first call also removes the groups of servers that died.
   */
  async #usageGroup(): Promise<JobCgroup | undefined> {
    this.#usageGroups ??= JobCgroups.detect(USAGE_PREFIX, USAGE_CONTROLLERS, 'root').then(async (groups) => {
      if (groups?.controllers.length !== USAGE_CONTROLLERS.length) return undefined;
      await groups.reapStale();
      return groups;
    });
    // A container is never refused for want of measurement: its usage stays unknown.
    return (await this.#usageGroups)?.create().catch(() => undefined);
  }

  /**
   * The same containers started by batch jobs on cluster nodes: images are still prepared
   * here (a node with its own image store must be able to pull them by name), the container
   * belongs to its batch job, the client gets only the environment it needs, and nothing is
   * measured here (the batch job measures it on its node, or nobody does).
   */
  forBatchJobs(): ContainerWrapper {
    return new ContainerWrapper(this.#engine, this.#images, { ...this.#options, batch: true, measure: false });
  }

  async wrap(spec: JobSpec): Promise<WrappedCommand> {
    const image = spec.confinement?.image;
    if (image === undefined) throw new Error(`job ${spec.id} names no container image`);
    await this.#images.ensure(image, spec.confinement?.imageSource);
    const engine = this.#engine;
    // Unique per attempt (a crashed attempt's container may still hold the previous name).
    const name = `wes-${createHash('sha256').update(spec.id).digest('hex').slice(0, 16)}-${randomBytes(4).toString('hex')}`;
    const mounts = spec.confinement?.mounts ?? [];
    const { nofile, nproc } = engine.ulimits;
    // These throw on a mount podman could not be given: before any group exists.
    const mountFlags = mounts.flatMap((m) => ['--mount', mountFlag(m)]);
    const workdir = workdirOf(spec.cwd, mounts);
    const usageGroup = await this.#usageGroup();
    const args = [
      engine.binary,
      ...engine.globalArgs,
      'run',
      '--rm',
      '--name',
      name,
      // Which job a container belongs to, for operators (`podman ps --filter label=…`) and tests.
      '--label',
      `${JOB_LABEL}=${spec.id}`,
      // Which server started it: another server on this data directory leaves it alone while that one lives.
      '--label',
      `${SERVER_LABEL}=${this.#options.batch === true ? BATCH_JOB : processKey(currentProcess())}`,
      // A real PID 1 forwards signals and reaps zombies; a job's own PID 1 would ignore SIGTERM.
      '--init',
      // The output goes straight to the job's stdout/stderr files, not also to an engine log.
      '--log-driver',
      'none',
      '--user',
      this.#user,
      // Rootless podman maps container uids to sub-uids; keep-id makes the server's uid its own,
      // so outputs stay the server's. (These machines run as root, where it is not needed.)
      ...(engine.name === 'podman' && process.getuid?.() !== 0 ? ['--userns', 'keep-id'] : []),
      '--cap-drop',
      'all',
      '--security-opt',
      'no-new-privileges',
      // slirp4netns gives outside networks only: the host's loopback (API, PostgreSQL) stays out of reach.
      '--network',
      spec.confinement?.network === true ? (engine.name === 'podman' ? 'slirp4netns:allow_host_loopback=false' : 'bridge') : 'none',
      '--pids-limit',
      String(this.#pidsLimit),
      // conmon stays with the client (the server's groups): its CPU and memory are not the job's.
      ...(usageGroup?.path === undefined ? [] : ['--cgroup-parent', usageGroup.path, '--cgroups', 'no-conmon']),
      ...(nofile === undefined ? [] : ['--ulimit', `nofile=${nofile}:${nofile}`]),
      ...(nproc === undefined ? [] : ['--ulimit', `nproc=${nproc}:${nproc}`]),
      ...(spec.cores !== undefined && spec.cores > 0 ? ['--cpus', String(spec.cores)] : []),
      ...(spec.ramMiB !== undefined && spec.ramMiB > 0 ? ['--memory', `${Math.max(Math.ceil(spec.ramMiB), 8)}m`] : []),
      ...mountFlags,
      '--workdir',
      workdir,
      ...Object.entries(spec.env).flatMap(([key, value]) => ['--env', `${key}=${value}`]),
      ...(spec.stdinPath === undefined ? [] : ['--interactive']),
      image,
      ...spec.argv,
    ];
    let stopped: Promise<void> | undefined;
    const remove = async (): Promise<void> => {
      await engine.exec(removeArgs(engine, name));
    };
    return {
      argv: args,
      env: this.#options.batch === true ? Object.fromEntries(Object.entries(engine.env).filter(([key]) => NODE_CLIENT_ENV.test(key))) : engine.env,
      stop: () => (stopped ??= remove()),
      // Always present: the client's own processes are not the job, so the executor must not
      // measure them in its place.
      usage: async () => usageGroup?.usage(),
      // Also after stop(): the client may have created the container after stop() looked for it.
      cleanup: async () => {
        await remove();
        await usageGroup?.remove();
      },
    };
  }
}

/**
 * Removes every container of a job whose id lies below `jobRoot` (a data directory) that a
 * server process now gone left behind (killed without shutdown, its podman clients died before
 * their containers) or, with `liveServers`, one that holds no lease any more. Containers of
 * live servers sharing the data directory are left alone. Returns how many were removed.
 */
export async function removeLeftoverContainers(engine: ContainerEngine, jobRoot: string, liveServers?: LiveServers): Promise<number> {
  const format = `{{.Names}} {{index .Labels "${SERVER_LABEL}"}} {{index .Labels "${JOB_LABEL}"}}`;
  const listed = await engine.exec(['ps', '--all', '--filter', `label=${JOB_LABEL}`, '--format', format]);
  if (listed.code !== 0) return 0;
  const ours = listed.stdout
    .split('\n')
    .map((line) => /^(\S+) (\S*) (.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[3].startsWith(`${jobRoot}/`));
  // Read after the listing, as GroupRegistry.reap does: a listed container's server registered before it.
  const live = await liveServers?.();
  const names = ours.filter((m) => serverAbandoned(m[2], live)).map((m) => m[1]);
  // One at a time: a name that vanished meanwhile must not keep the others.
  for (const name of names) await engine.exec(removeArgs(engine, name));
  return names.length;
}

/** A container without the server label predates it: its server is gone. */
function serverAbandoned(label: string, live: ReadonlySet<string> | undefined): boolean {
  if (label === '' || label === '<no value>') return true;
  if (label === BATCH_JOB) return false;
  const server = parseProcessKey(label);
  if (server === undefined || label === processKey(currentProcess())) return false;
  return processGone(server) === true || (live !== undefined && !live.has(label));
}

/** The container wrapper of a server: one image store, so each image is fetched once. */
export function containerWrapper(engine: ContainerEngine, options?: ContainerWrapperOptions): ContainerWrapper {
  return new ContainerWrapper(engine, new ImageStore(engine), options);
}
