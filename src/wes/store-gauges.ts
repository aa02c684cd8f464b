/** The /metrics gauges read from the store at scrape time: runs by state, jobs queued and running. 2 queries. */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { countRunsByState } from '../store/queries/runs.js';
import { countUnfinishedJobs } from '../store/queries/jobs.js';
import { RUN_STATES } from '../run-state.js';
import { renderGauge } from '../metrics.js';

export async function storeGauges(db: Kysely<Database>): Promise<string> {
  const runs = await countRunsByState(db);
  const jobs = await countUnfinishedJobs(db);
  return [
    renderGauge('wes_runs', 'Runs by WES state', RUN_STATES.map((state) => ({ labels: { state }, value: runs.get(state) ?? 0 }))),
    renderGauge('wes_jobs', 'Jobs not yet finished: queued (created or waiting for a slot) and running', [
      { labels: { state: 'queued' }, value: (jobs.get('new') ?? 0) + (jobs.get('queued') ?? 0) },
      { labels: { state: 'running' }, value: jobs.get('running') ?? 0 },
    ]),
  ].join('\n');
}
