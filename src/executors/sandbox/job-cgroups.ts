/**
 * Per-job control groups (cgroup v1, one directory per controller). They measure a job:
 * cpuacct its CPU time, the memory group's max_usage_in_bytes its peak — the sandbox's groups,
 * the local executor's usage-only groups of unconfined jobs, a container's parent group. For
 * the sandbox they also make its ResourceRequirement and process count hold:
 * memory.limit_in_bytes (the kernel's OOM killer stops the job's largest process beyond it),
 * cpu.cfs_quota_us (cores), pids.max (a fork bomb stops at the limit). A job's groups are made
 * below the server's own group in each hierarchy, so jobs stay inside whatever limits the
 * server itself runs under (a container's at the roots: see Placement), and are named
 * `<prefix>-<server pid>-<n>` so a later server with the same prefix can remove what a crash left.
 * Removing a job's groups first kills every process still in them: a process cannot leave
 * its group without privileges the sandbox drops, so nothing a job forked outlives it.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { isStaleName } from './stale-name.js';
import type { CgroupPlan, CgroupSetting, JobUsage } from '../executor.js';
import { errorMessage } from '../../errors.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;
export type Controller = (typeof CONTROLLERS)[number];
/** What measuring alone needs: no limit is set in these. */
export const USAGE_CONTROLLERS: readonly Controller[] = ['memory', 'cpuacct'];
const CFS_PERIOD_US = 100_000;
/** The sandbox's last processes are usually gone within a few ms of the job's exit: poll fast, then back off. */
const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 20;
/** How long removal keeps killing a group's processes before it gives up on the directory. */
const REMOVE_TIMEOUT_MS = 10_000;

export interface CgroupLimits {
  readonly ramMiB?: number;
  readonly cores?: number;
  readonly maxProcesses?: number;
}

export interface JobCgroup {
  /**
   * What making the groups takes: their `tasks` files (writing a thread id there moves that
   * thread alone, cgroup v1, so a launcher can step in, fork the job inside, and step back out
   * to each group's parent) and the limits to write first. Whoever starts the job makes them
   * (the local executor's launcher), unless create() did.
   */
  readonly plan: CgroupPlan;
  /** The groups' path within every hierarchy; only with the 'root' placement. */
  readonly path?: string;
  /** What the job used so far; undefined unless both the memory and cpuacct groups exist. */
  usage(): Promise<JobUsage | undefined>;
  /**
   * Kills whatever is left in the groups and resolves once nothing is, but for the processes
   * `spare` accepts (a sandbox's own init tearing its namespaces down); never rejects. The
   * groups stay: remove() follows.
   */
  vacate(spare: (pid: number) => boolean): Promise<void>;
  /** Kills whatever is left in the groups and removes them; never rejects. */
  remove(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The server's own group in each v1 hierarchy, from /proc/self/cgroup ("4:memory:/a/b"). */
async function ownGroups(): Promise<Map<string, string>> {
  const text = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  const groups = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, names, group] = line.split(':');
    if (names === undefined || group === undefined || names === '') continue;
    for (const name of names.split(',')) groups.set(name, group);
  }
  return groups;
}

// Per job, the groups' files are used synchronously: they answer from kernel memory, never
// from a disk, and a synchronous call costs the server about a quarter of the CPU of
// fs/promises' thread-pool round trips (measured: 0.6 against 2.3 ms a job for one job's groups).

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((line) => line !== '').map(Number);
  } catch {
    return [];
  }
}

/** Removes an empty group; 'busy' while processes or groups are inside. */
function removeGroup(dir: string): 'removed' | 'busy' | 'failed' {
  try {
    rmdirSync(dir);
    return 'removed';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EBUSY' || code === 'ENOTEMPTY' ? 'busy' : 'failed';
  }
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function subgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join(dir, entry.name));
  } catch {
    return [];
  }
}

/**
 * Removes `dirs`, killing every process in them until they are empty. A group stays busy for
 * a moment after its last process left cgroup.procs (a dying leader is no longer listed), so
 * the rmdir itself is what is retried.
 */
async function killAndRemove(dirs: readonly string[], deadline = Date.now() + REMOVE_TIMEOUT_MS): Promise<void> {
  for (const dir of dirs) {
    // Usually the job's processes are gone already and the group goes at once.
    for (let wait = FIRST_POLL_MS; removeGroup(dir) === 'busy' && Date.now() <= deadline; wait = Math.min(wait * 2, MAX_POLL_MS)) {
      killAll(pidsIn(dir));
      // Groups inside (a container's, when its runtime did not remove them) go first.
      await killAndRemove(subgroups(dir), deadline);
      await sleep(wait);
    }
  }
}

/** Kills every process in `dirs` until none is left but those `spare` accepts. */
async function vacate(dirs: readonly string[], spare: (pid: number) => boolean, deadline = Date.now() + REMOVE_TIMEOUT_MS): Promise<void> {
  for (const dir of dirs) {
    for (let wait = FIRST_POLL_MS; Date.now() <= deadline; wait = Math.min(wait * 2, MAX_POLL_MS)) {
      const left = pidsIn(dir).filter((pid) => !spare(pid));
      if (left.length === 0) break;
      killAll(left);
      await sleep(wait);
    }
  }
}

/** Every hierarchy mounted under CGROUP_ROOT (co-mounted ones once: their other names are links). */
async function hierarchies(): Promise<string[]> {
  const entries = await readdir(CGROUP_ROOT, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory()).map((entry) => path.join(CGROUP_ROOT, entry.name));
}

/**
 * Where a job's groups are made: below the server's own group in each hierarchy, or at the
 * hierarchies' roots, where the group has one path in all of them — what a container runtime
 * needs for `--cgroup-parent`, since it makes the container's groups below that path in every
 * hierarchy (the ones the server did not make are removed with the job's).
 */
export type Placement = 'own' | 'root';

export class JobCgroups {
  /** Parent directory per usable controller. */
  readonly #parents: ReadonlyMap<Controller, string>;
  readonly #prefix: string;
  /** With the 'root' placement, the other hierarchies' roots, where a runtime may add the job's group. */
  readonly #others: readonly string[];
  readonly #placement: Placement;
  #next = 0;

  private constructor(parents: ReadonlyMap<Controller, string>, prefix: string, placement: Placement, others: readonly string[]) {
    this.#parents = parents;
    this.#prefix = prefix;
    this.#placement = placement;
    this.#others = others;
  }

  /**
   * The controllers where this process may create child groups; undefined when none (no
   * cgroup v1 hierarchy, or not root). `prefix` names this server's job groups; `controllers`
   * are the ones wanted.
   */
  static async detect(prefix: string, controllers: readonly Controller[] = CONTROLLERS, placement: Placement = 'own'): Promise<JobCgroups | undefined> {
    const own = await ownGroups();
    const parents = new Map<Controller, string>();
    for (const controller of controllers) {
      const group = placement === 'root' ? '/' : own.get(controller);
      if (group === undefined) continue;
      const parent = path.join(CGROUP_ROOT, controller, group);
      const probe = path.join(parent, `${prefix}-probe-${process.pid}`);
      try {
        await mkdir(probe);
        await rmdir(probe);
        parents.set(controller, parent);
      } catch {
        // Not writable here: that limit is not enforced (reported by `controllers`).
      }
    }
    if (parents.size === 0) return undefined;
    const mine = new Set(await Promise.all([...parents.values()].map((parent) => realpath(parent).catch(() => parent))));
    const others = placement === 'root' ? (await hierarchies()).filter((root) => !mine.has(root)) : [];
    return new JobCgroups(parents, prefix, placement, others);
  }

  /** The controllers in use, e.g. "memory, cpu, pids". */
  get controllers(): readonly string[] {
    return [...this.#parents.keys()];
  }

  /** Creates the groups for one job, with no limit: it is only measured (a container's parent group). */
  async create(): Promise<JobCgroup> {
    const group = this.reserve();
    try {
      makeGroups(group.plan);
    } catch (err) {
      await group.remove();
      throw new Error(`cannot set up the job's control groups: ${errorMessage(err)}`);
    }
    return group;
  }

  /**
   * Names one job's groups and their limits without making them, for whoever starts the job
   * (the local executor's launcher, off the server's event loop, right before the fork: the
   * groups are new for every job, see ARCHITECTURE.md). Removing them is safe if they were
   * never made.
   */
  reserve(limits: CgroupLimits = {}): JobCgroup {
    return this.#named(this.#nextName(), limits);
  }

  #nextName(): string {
    return `${this.#prefix}-${process.pid}-${this.#next++}`;
  }

  #named(name: string, limits: CgroupLimits = {}): JobCgroup {
    const dirs = [...this.#parents.values()].map((parent) => path.join(parent, name));
    const settings = [...this.#parents].flatMap(([controller, parent]) => settingsOf(controller, path.join(parent, name), limits));
    const dirOf = (controller: Controller) => (this.#parents.has(controller) ? path.join(this.#parents.get(controller) as string, name) : undefined);
    // Deepest first: a container's groups in the other hierarchies, then the ones that measure it.
    const removal = [...this.#others.map((root) => path.join(root, name)), ...dirs];
    return {
      plan: { tasksFiles: dirs.map((dir) => path.join(dir, 'tasks')), settings },
      ...(this.#placement === 'root' ? { path: `/${name}` } : {}),
      usage: async () => readUsage(dirOf('memory'), dirOf('cpuacct') ?? dirOf('cpu')),
      vacate: (spare) => vacate(dirs, spare),
      remove: () => killAndRemove(removal),
    };
  }

  /** Kills and removes the job groups servers with this prefix left behind when they died. */
  async reapStale(): Promise<number> {
    const stale: string[] = [];
    for (const parent of [...this.#parents.values(), ...this.#others]) {
      const names = await readdir(parent).catch(() => [] as string[]);
      stale.push(...names.filter((name) => isStaleName(name, this.#prefix)).map((name) => path.join(parent, name)));
    }
    await killAndRemove(stale);
    return stale.length;
  }
}

/** cpuacct.usage is in nanoseconds; a co-mounted "cpu,cpuacct" hierarchy has it in the cpu group. */
function readUsage(memoryDir: string | undefined, cpuacctDir: string | undefined): JobUsage | undefined {
  if (memoryDir === undefined || cpuacctDir === undefined) return undefined;
  const read = (file: string): number => {
    try {
      return Number(readFileSync(file, 'utf8').trim());
    } catch {
      return NaN;
    }
  };
  const [nanoseconds, peak] = [read(path.join(cpuacctDir, 'cpuacct.usage')), read(path.join(memoryDir, 'memory.max_usage_in_bytes'))];
  if (!Number.isFinite(nanoseconds) || !Number.isFinite(peak)) return undefined;
  return { cpuSeconds: nanoseconds / 1e9, maxRssBytes: peak };
}

/**
 * Makes every group of `plan` and writes its settings (synchronously: see above); throws at
 * the first failure, leaving what was made for the caller to remove.
 */
export function makeGroups(plan: CgroupPlan): void {
  for (const file of plan.tasksFiles) mkdirSync(path.dirname(file));
  for (const { file, value, optional } of plan.settings) {
    try {
      writeFileSync(file, value);
    } catch (err) {
      if (optional !== true) throw err;
    }
  }
}

function settingsOf(controller: Controller, dir: string, limits: CgroupLimits): CgroupSetting[] {
  switch (controller) {
    case 'memory': {
      if (limits.ramMiB === undefined || !(limits.ramMiB > 0)) return [];
      const value = String(Math.ceil(limits.ramMiB) * 1024 * 1024);
      // With swap the job could page out past its limit; memsw caps memory plus swap (absent without swap accounting).
      return [
        { file: path.join(dir, 'memory.limit_in_bytes'), value },
        { file: path.join(dir, 'memory.memsw.limit_in_bytes'), value, optional: true },
      ];
    }
    case 'cpu':
      if (limits.cores === undefined || !(limits.cores > 0)) return [];
      return [
        { file: path.join(dir, 'cpu.cfs_period_us'), value: String(CFS_PERIOD_US) },
        { file: path.join(dir, 'cpu.cfs_quota_us'), value: String(Math.max(1000, Math.round(limits.cores * CFS_PERIOD_US))) },
      ];
    case 'cpuacct':
      return [];
    case 'pids':
      return limits.maxProcesses === undefined ? [] : [{ file: path.join(dir, 'pids.max'), value: String(limits.maxProcesses) }];
  }
}
