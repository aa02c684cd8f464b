/**
 * The last line of a failed job's stderr, the key its failure is grouped by (issue 10). Read
 * once, where the job's end is recorded: at most the file's last 4 KiB, opened as a run file
 * (never through a link the job planted, never outside its run), so a huge or hostile stderr
 * costs the same as a small one.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { findJob } from '../store/queries/jobs.js';
import { findRunById } from '../store/queries/runs.js';
import { openRunFile } from '../run-files.js';

const TAIL_BYTES = 4096;
/** Longest tail kept: enough to tell errors apart, short enough for a unique index key. */
const MAX_TAIL_CHARS = 200;

/** The tail ('' for an empty or missing stderr; undefined when the job has no stderr file). */
export async function readStderrTail(db: Kysely<Database>, invocationId: number, jobId: number): Promise<string | undefined> {
  const [job, run] = await Promise.all([findJob(db, jobId), findRunById(db, invocationId)]);
  if (job?.stderr_path == null || run === undefined) return undefined;
  const opened = await openRunFile({ path: job.stderr_path, runDir: run.run_dir, followLinks: false }).catch(() => undefined);
  if (opened === undefined) return '';
  try {
    const length = Math.min(TAIL_BYTES, opened.size);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await opened.handle.read(buffer, 0, length, opened.size - length);
    return lastLine(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await opened.handle.close();
  }
}

/** The last non-blank line, without NUL bytes (PostgreSQL text cannot hold them), cut to MAX_TAIL_CHARS. */
export function lastLine(text: string): string {
  const lines = text.replaceAll('\0', '').split(/\r?\n/);
  const last = lines.reverse().find((line) => line.trim() !== '') ?? '';
  return Array.from(last.trimEnd()).slice(0, MAX_TAIL_CHARS).join('');
}
