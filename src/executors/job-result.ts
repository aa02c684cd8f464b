/** JobResults as every executor reports them, ended now. */
import type { JobOutcome, JobResult } from './executor.js';

export function ended(outcome: JobOutcome, startedAt?: Date): JobResult {
  const endedAt = new Date();
  return startedAt === undefined ? { outcome, endedAt } : { outcome, startedAt, endedAt };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
