/** Messages between the executor and its launcher process (launcher.ts, launcher-process.ts). */
import type { CgroupPlan } from '../executor.js';

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
   * The job's own control groups (job-cgroups.ts): the launcher makes them, writes their
   * settings, and its thread steps into them for the fork, so the job's first process is born
   * inside and nothing it forks escapes them, then steps back to each one's parent (the groups
   * are named below the server's own, where the launcher lives).
   */
  readonly cgroups?: LaunchGroups;
}

export interface LaunchGroups {
  readonly plan: CgroupPlan;
  /**
   * The job must not run outside them (they hold the sandbox's limits): failing to make or
   * enter them fails the launch. Otherwise (usage-only groups) the job then runs unmeasured.
   */
  readonly required: boolean;
}

export type LaunchReply =
  /** `measured`: the job was born in its control groups (false when stepping into one failed). */
  | { readonly id: number; readonly kind: 'started'; readonly pid: number; readonly measured: boolean }
  /** `opening` names the redirection that could not be opened; otherwise the spawn failed (`code`: ENOENT, EACCES). */
  | { readonly id: number; readonly kind: 'failed'; readonly code?: string; readonly opening?: Redirection; readonly message: string }
  | { readonly id: number; readonly kind: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null };
