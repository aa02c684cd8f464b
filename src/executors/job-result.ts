/** JobResults as every executor reports them, ended now. */
import type { JobOutcome, JobResult, JobUsage } from './executor.js';

export function ended(outcome: JobOutcome, startedAt?: Date, usage?: JobUsage): JobResult {
  const endedAt = new Date();
  const result: JobResult = startedAt === undefined ? { outcome, endedAt } : { outcome, startedAt, endedAt };
  return usage === undefined ? result : { ...result, usage };
}
