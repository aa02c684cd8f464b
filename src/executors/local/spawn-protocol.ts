/** Messages between the executor and its spawn thread (spawn-thread.ts, spawn-worker.ts). */

export interface SpawnRequest {
  readonly id: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Descriptors of this process (the thread shares them), or 'ignore'. */
  readonly stdio: readonly [number | 'ignore', number, number];
}

export type SpawnReply =
  | { readonly id: number; readonly kind: 'started'; readonly pid: number }
  | { readonly id: number; readonly kind: 'failed'; readonly code?: string; readonly message: string }
  | { readonly id: number; readonly kind: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null };
