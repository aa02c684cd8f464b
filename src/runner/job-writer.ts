/**
 * A run's job state changes (created, started, submitted, ended), written in batches: changes
 * queue up while one transaction is in flight and the next transaction takes them all, merged
 * per job, one UPDATE statement per 1,000 jobs (applyJobChanges). A 1,000-job scatter's
 * thousands of reports become a few dozen transactions instead of thousands, and a run never has
 * more than one write in the database's line. Each caller's promise settles when its change is
 * committed, so whatever the engine awaits (a job's end before its outputs are used, every end
 * before the run completes) is in the store by then.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { applyJobChanges, type JobChange } from '../store/queries/jobs.js';

const GATHER_MS = 5;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class JobWriter {
  readonly #db: Kysely<Database>;
  #changes = new Map<number, JobChange>();
  #waiters: Waiter[] = [];
  #writing = false;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Queues a change; a later change of the same job before the write overrides field by field. */
  write(change: JobChange): Promise<void> {
    const earlier = this.#changes.get(change.jobId);
    this.#changes.set(change.jobId, earlier === undefined ? change : { ...earlier, ...definedFields(change) });
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#writing) void this.#drain();
    return done;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#changes.size > 0) {
      // Let the reports of the next few milliseconds join: at hundreds of jobs a second one
      // transaction then carries dozens of them, while a job's end is still in within moments.
      await new Promise<void>((resolve) => setTimeout(resolve, GATHER_MS));
      const changes = [...this.#changes.values()];
      const waiters = this.#waiters;
      this.#changes = new Map();
      this.#waiters = [];
      try {
        await this.#db.transaction().execute((trx) => applyJobChanges(trx, changes));
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#writing = false;
  }
}

function definedFields(change: JobChange): Partial<JobChange> {
  return Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined));
}
