/**
 * Starts each job inside a bubblewrap sandbox: new PID, IPC, UTS, cgroup, network and mount
 * namespaces, every capability dropped (a root server's job keeps CAP_CHOWN and CAP_FOWNER for
 * its own files), a fresh root where only the system
 * directories (read-only, /etc minus what a local user could not read), a private /tmp,
 * minimal /proc and /dev and the job's mount list exist. The job runs as the sandbox's PID 1's
 * child: when it exits, the kernel kills everything else in its PID namespace, so a
 * double-forked daemon dies with it; `--die-with-parent` ties the sandbox to the server, so a
 * server killed with SIGKILL takes its jobs along. With NetworkAccess the job gets its own
 * network namespace with slirp4netns (no host loopback), made by the server or, for a batch
 * job, on its node; otherwise only a loopback of its own.
 * Memory, cores and the process count are held by per-job control groups when the host lets
 * the server create them.
 *
 * bwrap runs with the server's privileges, so nothing of the job reaches its environment: the
 * job's variables are set inside the sandbox (`--clearenv`, `--setenv`), never on bwrap itself
 * (an LD_PRELOAD there would run as the server).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CommandWrapper, JobSpec, Mount, WrappedCommand } from '../executor.js';
import { JobCgroups } from './job-cgroups.js';
import { SLIRP_NAMESERVER, SLIRP_OPTIONS, SlirpNetworks, type JobNetwork } from './slirp-network.js';
import { systemEntries, unreadableEntries, type HiddenEntries, type SystemEntry } from './system-view.js';

const run = promisify(execFile);
export const BWRAP_PACKAGE = 'bubblewrap';
export const SLIRP_PACKAGE = 'slirp4netns';
/**
 * PATH of the wrapper processes themselves (bwrap, nsenter, sh): the server's own, which the
 * operator controls; the job's PATH is set inside the sandbox.
 */
const WRAPPER_PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';

const NO_NETWORK_HERE = 'NetworkAccess needs slirp4netns and iproute2 and a server running as root; this server has no network for sandboxed jobs';
/**
 * Runs on a batch node as `sh -c NODE_NETWORK wes-network bwrap <bwrap's arguments>`: gives the
 * sandbox's network namespace the slirp4netns network SlirpNetworks gives local jobs, before
 * the job's first instruction. bwrap names the sandbox's PID 1 on fd 4 and holds it on fd 5
 * until this shell writes there; slirp4netns says it is ready on fd 6 and exits when fd 7,
 * which only this shell holds, closes: when the sandbox has ended or this shell was killed.
 * FIFOs stand in for the pipes sh cannot make; their directory goes as soon as they are open.
 * The job's arguments reach the shell only as "$@"; setup failures exit 125, saying so.
 */
const NODE_NETWORK = [
  'fail() { printf \'%s\\n\' "cannot give the job a network on $(hostname): $1" >&2; exit 125; }',
  'd=$(mktemp -d) && mkfifo "$d/info" "$d/go" "$d/ready" "$d/exit" && exec 5<>"$d/go" 8>"$d/log" || fail \'no FIFOs\'',
  'bwrap=$1; shift',
  '"$bwrap" --info-fd 4 --block-fd 5 "$@" 4>"$d/info" 8>&- &',
  'sandbox=$!',
  'exec 4<"$d/info"',
  // To the end: bwrap dies of SIGPIPE when its reader leaves early.
  'pid=; while IFS= read -r line <&4; do case $line in *\'"child-pid"\'*) pid=${line##*: }; pid=${pid%,};; esac; done; exec 4<&-',
  // No child: bwrap has said why on stderr.
  'case $pid in \'\'|*[!0-9]*) rm -rf "$d"; wait "$sandbox"; exit;; esac',
  // bwrap brings the namespace's loopback up itself and fails when slirp4netns --configure did first.
  'until grep -qF 127.0.0.1 "/proc/$pid/net/fib_trie" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; do sleep 0.01; done',
  `slirp4netns ${SLIRP_OPTIONS.join(' ')} --ready-fd=6 --exit-fd=7 "$pid" tap0 6>"$d/ready" 7<"$d/exit" 5>&- >&8 2>&8 &`,
  'slirp=$!',
  'exec 6<"$d/ready" 7>"$d/exit"',
  'rm -rf "$d"',
  'read -r ready <&6; exec 6<&-',
  // The held sandbox's PID 1 does not die with bwrap yet (nor end its read of fd 5, open here).
  'if [ "$ready" != 1 ]; then kill -KILL "$pid" "$sandbox" 2>/dev/null; wait "$sandbox"; fail "slirp4netns: $(tail -n 3 /dev/fd/8)"; fi',
  'exec 8>&-; printf x >&5; exec 5>&-',
  // scancel signals every process of the job; the sandbox also gets it when only this shell does.
  'trap \'kill "$sandbox" 2>/dev/null\' TERM INT HUP',
  'while :; do wait "$sandbox"; code=$?; kill -0 "$sandbox" 2>/dev/null || break; done',
  'exec 7>&-; wait "$slirp"; exit "$code"',
].join('\n');

export interface BwrapWrapperOptions {
  /** Never visible to a job, whatever is mounted around it (the data directory). */
  readonly hiddenPaths: readonly string[];
  /** Where the wrapper keeps the empty directory and resolv.conf it binds into sandboxes. */
  readonly stateDir: string;
  /** pids.max of each job (threads count too). */
  readonly maxProcesses: number;
  /** Host directories every job sees read-only besides the system ones (the operator's tools). */
  readonly readOnlyDirs?: readonly string[];
}

/** Why bubblewrap cannot be used here, naming what to install. */
export class SandboxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUnavailableError';
  }
}

export class BwrapWrapper implements CommandWrapper {
  readonly #base: readonly string[];
  readonly #options: BwrapWrapperOptions;
  readonly #resolvConf: string;
  /** Where the job's resolv.conf goes: /etc/resolv.conf, or what it links to (systemd-resolved). */
  readonly #resolvTarget: string;
  readonly #maxProcesses: number;
  readonly #cgroups: JobCgroups | undefined;
  readonly #networks: SlirpNetworks | undefined;
  /** Why a NetworkAccess job cannot start, when #networks is absent and not #networkOnNode. */
  readonly #noNetwork: string;
  /** NetworkAccess jobs make their network where they run (NODE_NETWORK), not here. */
  readonly #networkOnNode: boolean;
  /** One line for the start-up log and service-info. */
  readonly description: string;

  private constructor(
    base: readonly string[],
    options: BwrapWrapperOptions,
    resolvConf: string,
    resolvTarget: string,
    cgroups: JobCgroups | undefined,
    networks: SlirpNetworks | undefined,
    noNetwork: string,
    description: string,
    networkOnNode = false,
  ) {
    this.#base = base;
    this.#options = options;
    this.#resolvConf = resolvConf;
    this.#resolvTarget = resolvTarget;
    this.#maxProcesses = options.maxProcesses;
    this.#cgroups = cgroups;
    this.#networks = networks;
    this.#noNetwork = noNetwork;
    this.#networkOnNode = networkOnNode;
    this.description = description;
  }

  /**
   * Checks that a sandbox really starts here (bwrap installed, namespaces allowed), reads what
   * of /etc to hide, finds usable cgroups and slirp4netns, and removes what a crashed server
   * with the same state directory left. Throws SandboxUnavailableError naming the package.
   */
  static async create(options: BwrapWrapperOptions): Promise<BwrapWrapper> {
    const version = await bwrapVersion();
    if (version === undefined) {
      throw new SandboxUnavailableError(`bwrap not found: install the "${BWRAP_PACKAGE}" package (Debian/Ubuntu: apt-get install ${BWRAP_PACKAGE})`);
    }
    const empty = path.join(options.stateDir, 'empty');
    const resolvConf = path.join(options.stateDir, 'resolv.conf');
    await mkdir(empty, { recursive: true });
    await writeFile(resolvConf, `nameserver ${SLIRP_NAMESERVER}\n`);
    const base = baseArgs(await systemEntries(), options.readOnlyDirs ?? [], await unreadableEntries('/etc'), empty, options.hiddenPaths);
    try {
      await run('bwrap', [...base, '--unshare-net', '--', 'true'], { env: { PATH: WRAPPER_PATH } });
    } catch (err) {
      const stderr = typeof err === 'object' && err !== null && 'stderr' in err ? String((err as { stderr: unknown }).stderr).trim() : String(err);
      throw new SandboxUnavailableError(`bubblewrap is installed but cannot start a sandbox here: ${stderr}`);
    }
    const prefix = `wes-${createHash('sha256').update(options.stateDir).digest('hex').slice(0, 8)}`;
    const cgroups = await JobCgroups.detect(prefix);
    await cgroups?.reapStale();
    const networks = (await SlirpNetworks.available()) ? new SlirpNetworks(prefix) : undefined;
    await networks?.reapStale();
    const limits =
      cgroups === undefined
        ? 'RAM, cores and process count NOT enforced (no writable cgroup v1 hierarchy)'
        : `limits by cgroup v1 ${cgroups.controllers.join(', ')}`;
    const network =
      networks === undefined ? `NetworkAccess unavailable (needs root and the ${SLIRP_PACKAGE} and iproute2 packages)` : 'NetworkAccess through slirp4netns';
    const description = `bubblewrap ${version}; ${limits}; ${network}`;
    const resolvTarget = await realpath('/etc/resolv.conf').catch(() => '/etc/resolv.conf');
    return new BwrapWrapper(base, options, resolvConf, resolvTarget, cgroups, networks, NO_NETWORK_HERE, description);
  }

  /**
   * The same sandbox for a command a batch system starts on one of its nodes: the same view,
   * namespaces and capabilities, but no per-job control groups (they would be made on this
   * host; the cluster's own limits of the batch job hold instead, see ARCHITECTURE.md). A
   * NetworkAccess job's batch job makes its network on the node (NODE_NETWORK), which needs
   * slirp4netns there; the batch script checks for it.
   */
  forBatchJobs(): BwrapWrapper {
    const description = `${this.description}; on batch nodes: no per-job control groups, NetworkAccess through the node's ${SLIRP_PACKAGE}`;
    return new BwrapWrapper(this.#base, this.#options, this.#resolvConf, this.#resolvTarget, undefined, undefined, NO_NETWORK_HERE, description, true);
  }

  async wrap(spec: JobSpec): Promise<WrappedCommand> {
    const confinement = spec.confinement ?? { mounts: [{ hostPath: spec.cwd, jobPath: spec.cwd, writable: true }], network: false };
    if (confinement.network && this.#networks === undefined && !this.#networkOnNode) {
      throw new Error(this.#noNetwork);
    }
    const env = Object.entries(spec.env).flatMap(([name, value]) => ['--setenv', name, value]);
    const bwrap = [
      'bwrap',
      ...this.#base,
      // A namespace made here is entered before bwrap starts; one made on a node, by bwrap.
      ...(confinement.network ? [this.#networkOnNode ? '--unshare-net' : '--share-net', '--ro-bind', this.#resolvConf, this.#resolvTarget] : ['--unshare-net']),
      ...confinement.mounts.flatMap(mountArgs),
      '--chdir',
      spec.cwd,
      '--clearenv',
      ...env,
      '--',
      ...spec.argv,
    ];
    if (confinement.network && this.#networkOnNode) {
      return { argv: ['/bin/sh', '-c', NODE_NETWORK, 'wes-network', ...bwrap], env: { PATH: WRAPPER_PATH }, requires: ['bwrap', 'slirp4netns'] };
    }
    const undo: Array<() => Promise<void>> = [];
    const cleanup = async (): Promise<void> => {
      for (const step of undo.reverse()) await step();
    };
    try {
      let argv = bwrap;
      if (confinement.network && this.#networks !== undefined) {
        const network: JobNetwork = await this.#networks.create();
        undo.push(() => network.remove());
        argv = ['nsenter', `--net=${network.path}`, '--', ...argv];
      }
      // The executor's launcher makes them and forks the job inside (WrappedCommand.cgroups).
      const cgroup = this.#cgroups?.reserve({ ramMiB: spec.ramMiB, cores: spec.cores, maxProcesses: this.#maxProcesses });
      if (cgroup === undefined) return { argv, env: { PATH: WRAPPER_PATH }, cleanup };
      undo.push(() => cgroup.remove());
      return { argv, env: { PATH: WRAPPER_PATH }, cleanup, usage: () => cgroup.usage(), cgroups: cgroup.plan, settled: () => cgroup.vacate(isSandboxInit) };
    } catch (err) {
      await cleanup();
      throw err;
    }
  }
}

/**
 * Whether `pid` is a sandbox's PID 1, bwrap's own init (NSpid "<ours> 1": a job cannot be PID 1
 * of its sandbox, and a namespace it makes lies one level deeper). Once the job's processes
 * are gone it runs nothing of the job: it exits, tearing the namespaces down, which waits for
 * an RCU grace period (synchronize_rcu_expedited on the mount namespace; milliseconds).
 */
function isSandboxInit(pid: number): boolean {
  try {
    const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return nspid !== undefined && /^\d+\s+1$/.test(nspid.trim());
  } catch {
    return false;
  }
}

/** The installed bubblewrap's version, or undefined when `bwrap` cannot be run. */
export async function bwrapVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('bwrap', ['--version'], { env: { PATH: WRAPPER_PATH } });
    return stdout.trim().replace(/^bubblewrap\s*/, '');
  } catch {
    return undefined;
  }
}

function within(child: string, parent: string): boolean {
  return child === parent || child.startsWith(`${parent}/`);
}

/** Everything but the job's own mounts, network and command; the same for every job. */
function baseArgs(
  system: readonly SystemEntry[],
  readOnlyDirs: readonly string[],
  hidden: HiddenEntries,
  emptyDir: string,
  hiddenPaths: readonly string[],
): string[] {
  // --unshare-all minus the user namespace: under a root server that namespace would map uid
  // 0 alone, and root's tar restoring an archive's owners fails (conformance directory_output).
  // An unprivileged bwrap adds a user namespace by itself.
  const args = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
  // CAP_CHOWN and CAP_FOWNER (chmod of a file it gave away) then reach only the job's own
  // writable mounts: everything else is read-only or private to the sandbox.
  if (process.getuid?.() === 0) args.push('--cap-add', 'CAP_CHOWN', '--cap-add', 'CAP_FOWNER');
  for (const entry of system) {
    if (entry.symlinkTo !== undefined) args.push('--symlink', entry.symlinkTo, entry.path);
    else args.push('--ro-bind', entry.path, entry.path);
  }
  for (const file of hidden.files) args.push('--ro-bind', '/dev/null', file);
  for (const dir of hidden.dirs) args.push('--ro-bind', emptyDir, dir);
  // bwrap covers /proc/sys only when the directory itself is writable, which it is not
  // (0555) while the files in it are writable for uid 0: without this a root server's job
  // could set kernel.core_pattern, i.e. run a program as root on the host.
  args.push('--proc', '/proc', '--ro-bind', '/proc/sys', '/proc/sys', '--dev', '/dev', '--tmpfs', '/tmp');
  // After /tmp, so that an operator's directory below it is not covered.
  for (const dir of readOnlyDirs) args.push('--ro-bind', dir, dir);
  // A data directory below a bound directory (say /opt/wes/data) would otherwise be visible.
  const bound = [...system.filter((entry) => entry.symlinkTo === undefined).map((entry) => entry.path), ...readOnlyDirs];
  for (const hiddenPath of hiddenPaths) {
    if (bound.some((dir) => within(hiddenPath, dir))) args.push('--tmpfs', hiddenPath);
  }
  return args;
}

function mountArgs(mount: Mount): string[] {
  return [mount.writable ? '--bind' : '--ro-bind', mount.hostPath, mount.jobPath];
}
