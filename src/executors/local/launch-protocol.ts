/** Messages between the executor and its launcher process (launcher.ts, launcher-process.ts). */

/** A job's standard stream, as a launch failure names the one it could not open. */
export type Redirection = 'stdin' | 'stdout' | 'stderr';

export interface LaunchRequest {
  readonly id: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Absolute files; stdin is empty without one. */
  readonly stdinPath?: string;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /**
   * `tasks` files of the job's own control groups (job-cgroups.ts): the launcher makes the
   * groups and its thread steps into them for the fork, so the job's first process is born
   * inside and nothing it forks escapes measurement, then steps back to each one's parent (the
   * groups are named below the server's own, where the launcher lives).
   */
  readonly cgroupTasks?: readonly string[];
}

export type LaunchReply =
  /** `measured`: the job was born in its control groups (false when stepping into one failed). */
  | { readonly id: number; readonly kind: 'started'; readonly pid: number; readonly measured: boolean }
  /** `opening` names the redirection that could not be opened; otherwise the spawn failed (`code`: ENOENT, EACCES). */
  | { readonly id: number; readonly kind: 'failed'; readonly code?: string; readonly opening?: Redirection; readonly message: string }
  | { readonly id: number; readonly kind: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null };
