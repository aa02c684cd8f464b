/**
 * The boundary between the engine and whatever runs a command. An Executor runs one fully
 * prepared command (argv, working directory, environment, redirections) and reports how it
 * ended; it knows nothing of CWL, runs or the store. Specs and results are plain data so a
 * queued job can be recorded and resumed.
 */

/**
 * A host path a confined job may see, and where it sees it. The engine computes one list per
 * job (its staged inputs read-only, its work and tmp directories writable); every confining
 * backend (bubblewrap, podman, docker, a batch script) only turns that list into its own flags.
 */
export interface Mount {
  readonly hostPath: string;
  /** Absolute path inside the job's view; equal to hostPath unless the job runs in a container. */
  readonly jobPath: string;
  readonly writable: boolean;
}

/** What a job may reach; unconfined executors (WES_JOB_SANDBOX=none) ignore it. */
export interface Confinement {
  /** Everything of the host's files the job sees besides the system's read-only directories. */
  readonly mounts: readonly Mount[];
  /** Outside networks (never the server's loopback services); from CWL NetworkAccess. */
  readonly network: boolean;
  /**
   * Run in this container image (DockerRequirement): the name or id given to `podman run`.
   * argv and env are then in-container; cwd stays the host directory, seen in the container at
   * the jobPath of the mount that holds it.
   */
  readonly image?: string;
  /** How to get `image` when the machine does not have it; absent: pull `image` by name. */
  readonly imageSource?: ImageSource;
}

/** One way to obtain a container image (CWL DockerRequirement), tried when the image is missing. */
export type ImageSource =
  /** `podman pull` this reference, then tag it as the image if the names differ (dockerPull). */
  | { readonly kind: 'pull'; readonly reference: string }
  /** `podman load` an image archive at this host path (dockerLoad). */
  | { readonly kind: 'load'; readonly archive: string }
  /** `podman import` a root filesystem archive at this host path (dockerImport). */
  | { readonly kind: 'import'; readonly archive: string }
  /** `podman build` this Dockerfile text with an empty context (dockerFile). */
  | { readonly kind: 'build'; readonly dockerfile: string };

export interface JobSpec {
  /** Caller-chosen identifier, unique among jobs running at once; used in errors and logs. */
  readonly id: string;
  /** argv[0] is looked up on PATH from `env.PATH` when it has no slash. */
  readonly argv: readonly string[];
  /** Absolute directory the process starts in; must exist. */
  readonly cwd: string;
  /** The complete environment of the process (nothing is inherited implicitly). */
  readonly env: Readonly<Record<string, string>>;
  /** Absolute file to feed as stdin, or undefined for an empty stdin. */
  readonly stdinPath?: string;
  /** Absolute files that receive the process's stdout and stderr (created or truncated). */
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Wall-clock limit in seconds; 0 or undefined means none. */
  readonly timeLimitSeconds?: number;
  /** Resources the job reserves while it runs; bound what runs at once. */
  readonly cores?: number;
  readonly ramMiB?: number;
  /** The user the job runs for; jobs of different owners share the slots fairly. */
  readonly owner?: string;
  /** Undefined means the executor's default view (unconfined, or a sandbox seeing only cwd). */
  readonly confinement?: Confinement;
}

export type JobOutcome =
  /** The process exited by itself; exitCode is its status (128+n when killed by signal n). */
  | { readonly kind: 'exited'; readonly exitCode: number }
  /** Killed because it ran past timeLimitSeconds. */
  | { readonly kind: 'timed-out' }
  /** Killed because the caller aborted it. */
  | { readonly kind: 'canceled' }
  /** The process could not be started (e.g. command not found); message says why. */
  | { readonly kind: 'failed-to-start'; readonly message: string };

export interface JobResult {
  readonly outcome: JobOutcome;
  /** When the process really started (after waiting for a slot), undefined if it never did. */
  readonly startedAt?: Date;
  readonly endedAt: Date;
  /** What the job used, when the executor could measure it (per-job cgroups); else absent. */
  readonly usage?: JobUsage;
}

/** CPU time (user + system) and peak resident memory of a job, all its processes together. */
export interface JobUsage {
  readonly cpuSeconds: number;
  readonly maxRssBytes: number;
}

export interface JobHandle {
  /** Resolves when the process (and its whole process group) has ended; never rejects. */
  readonly result: Promise<JobResult>;
}

export interface Executor {
  /**
   * Jobs it runs (or keeps in the cluster) at once: the engine prepares a scatter's jobs only a
   * few times this many ahead of them (elementWindow).
   */
  readonly capacity: number;
  /**
   * Queues the job; it starts when a slot (count, cores, RAM) is free. `onStart` is called
   * once when the process has been spawned. Aborting `signal` kills the job's whole process
   * group (SIGTERM, then SIGKILL after a grace period) or drops it from the queue.
   * An executor whose jobs outlive the server (Slurm) calls `onSubmitted` once with the id
   * it gave the job, before `onStart`; the caller stores it for `attach` after a restart.
   */
  submit(
    spec: JobSpec,
    signal: AbortSignal,
    onStart?: (startedAt: Date) => void,
    onSubmitted?: (externalId: string) => void,
  ): JobHandle;
  /** Kills every running job and refuses new ones; resolves when all have ended. */
  shutdown(): Promise<void>;

  // Optional: only executors whose jobs outlive the server (Slurm) have these.

  /**
   * Resume after a restart: follows the job an earlier server submitted (the id it got from
   * `onSubmitted`) if that job is still queued or running, or ended with its result on
   * record; resolves to undefined when nothing of it is left, and the caller submits the job
   * again. The handle behaves as submit's (abort cancels it; no time limit beyond what the
   * earlier submission asked of the cluster). Answered by the executor's next batched poll.
   */
  attach?(externalId: string, signal: AbortSignal, onStart?: (startedAt: Date) => void): Promise<JobHandle | undefined>;
  /**
   * Server shutdown, called before the runs are stopped: from now on an aborted job is not
   * stopped but left to the cluster (its handle resolves canceled at once), so that the next
   * server attaches to it. Submissions not yet handed to the cluster are dropped.
   */
  detach?(): void;
  /** Cancels jobs of earlier servers by their `onSubmitted` ids (a run canceled while no server ran). */
  cancelExternal?(externalIds: readonly string[]): Promise<void>;
}

/**
 * How a confined job is really started: the process to spawn in place of the job's own argv
 * (`bwrap … -- argv`, `podman run … image argv`). Implementations are chosen per job by the
 * executor's wiring (container image or not); the spawned process still leads the job's
 * process group, so cancel and time limits reach it the usual way.
 */
export interface CommandWrapper {
  /** Called right before spawning; a rejection fails the job to start with its message. */
  wrap(spec: JobSpec): Promise<WrappedCommand>;
}

export interface WrappedCommand {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Programs argv[0] runs besides the job's command, checked on a batch node before it starts. */
  readonly requires?: readonly string[];
  /** On cancel or time limit: extra step to stop the job beyond killing its process group (e.g. `podman rm -f`). */
  stop?(): Promise<void>;
  /**
   * After the job ended and before cleanup: what it used, if the wrapper measured it (its
   * cgroups). Present, even if it answers undefined, whenever the spawned process's tree is not
   * the job (a container's client): the executor then does not measure that tree in its place.
   */
  usage?(): Promise<JobUsage | undefined>;
  /** Runs once after the job ended, however it ended (e.g. remove a container, a cgroup). */
  cleanup?(): Promise<void>;
  /**
   * Resolves once nothing of the job runs any more, which may be before cleanup() could end (a
   * sandbox's own init still tearing its namespaces down holds its groups for milliseconds).
   * With it the executor reads usage and reports the job's end then, and lets cleanup() finish
   * after (its shutdown waits for it); without it, cleanup() comes first.
   */
  settled?(): Promise<void>;
  /**
   * Control groups the job must be born in (the sandbox's limits): whoever starts the process
   * makes them, writes their settings and forks it inside, or fails the job to start. Only for
   * an executor that starts jobs on this host (the local one); batch variants never set it.
   */
  readonly cgroups?: CgroupPlan;
}

/** Control groups (cgroup v1, one directory per hierarchy) to make for one job and start it in. */
export interface CgroupPlan {
  /** Each group's `tasks` file; the group is its directory. */
  readonly tasksFiles: readonly string[];
  /** Written once every group exists, before the job starts; a failed `optional` one is skipped. */
  readonly settings: readonly CgroupSetting[];
}

export interface CgroupSetting {
  readonly file: string;
  readonly value: string;
  readonly optional?: boolean;
}
