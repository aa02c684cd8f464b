/** What a run directory (<data dir>/runs/<run id>) holds; shared by the API side and the runner. */
export const RUN_LAYOUT = {
  /** The workflow_attachment files, as uploaded. */
  attachments: 'attachments',
  /** http(s) File inputs, downloaded before the first job starts. */
  downloads: 'downloads',
  /** One working directory per job, with its stdout/stderr. */
  work: 'work',
  /** The engine's own line log of the run (served at /runs/{id}/log). */
  engineLog: 'engine.log',
} as const;
