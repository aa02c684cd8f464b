/** What a run directory (<data dir>/runs/<run id>) holds; shared by the API side and the runner. */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const RUN_LAYOUT = {
  /** The workflow_attachment files, as uploaded. */
  attachments: 'attachments',
  /** http(s) File inputs, downloaded before the first job starts. */
  downloads: 'downloads',
  /** One working directory per job (its out/, tmp/, stage/). */
  work: 'work',
  /** Each job's captured stdout/stderr, outside every directory a job may write. */
  logs: 'logs',
  /** The engine's own line log of the run (served at /runs/{id}/log). */
  engineLog: 'engine.log',
  /** The CWL output object of a completed run (run-outputs.ts). */
  outputs: 'outputs.json',
} as const;

/**
 * A message for users (run_log.system_logs, task system_logs, the engine log, a 400) with
 * the server's paths taken out: files in the run's attachments are named by their attachment
 * path, other files of the run relative to the run directory, and anything else under the
 * data directory as `<data dir>/…`. Every user-visible message that may hold a path goes
 * through here.
 */
export function publicText(text: string, runDir: string): string {
  const run = path.resolve(runDir);
  const dataDir = path.dirname(path.dirname(run));
  let out = text;
  for (const prefix of [pathToFileURL(run).href, run]) {
    out = out
      .split(`${prefix}/${RUN_LAYOUT.attachments}/`)
      .join('')
      .split(`${prefix}/`)
      .join('')
      .split(prefix)
      .join('.');
  }
  for (const prefix of [pathToFileURL(dataDir).href, dataDir]) {
    if (prefix !== '/' && prefix !== 'file:///') out = out.split(prefix).join('<data dir>');
  }
  return out;
}
