/**
 * The executor the configuration asks for (WES_EXECUTOR), ready to use: the one place that
 * chooses, for `wes serve` and for tests alike. Local: process groups recorded under
 * <dataDir>/executor, so that orphans of a crashed server can be stopped. Slurm: the commands
 * checked and job arrays fitted to the cluster's MaxArraySize, status files under
 * <dataDir>/executor/slurm (the data directory must be shared with the nodes). Both confine
 * jobs with the same wrapper: the sandbox mode chosen at start holds on Slurm nodes too (a
 * node that cannot run it fails the job, saying so, never runs it unconfined).
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { Executor } from '../executors/executor.js';
import type { NodeWrapper } from '../executors/job-wrapper.js';
import { LocalExecutor } from '../executors/local/local-executor.js';
import type { LiveServers } from '../executors/local/group-registry.js';
import { SlurmExecutor } from '../executors/slurm/slurm-executor.js';

export interface ConfiguredExecutor {
  readonly executor: Executor;
  /**
   * Stops the job process groups that server processes of this host left running when they
   * died (or, given the servers holding a lease, lost it); returns how many. Local only: Slurm
   * jobs are attached to, not stopped.
   */
  readonly reapOrphans: (liveServers?: LiveServers) => Promise<number>;
}

/** How jobs are started: the wrapper that applies the sandbox mode chosen at start, and containers. */
export interface JobStart {
  readonly wrapper: NodeWrapper;
}

export async function createExecutor(config: Config, start: JobStart): Promise<ConfiguredExecutor> {
  const stateDir = path.join(config.dataDir, 'executor');
  if (config.executor === 'slurm') {
    const executor = new SlurmExecutor({ stateDir: path.join(stateDir, 'slurm'), ...config.slurm, wrapper: start.wrapper.forBatchJobs() });
    await executor.check();
    return { executor, reapOrphans: async () => 0 };
  }
  const executor = new LocalExecutor({ maxJobs: config.maxJobs, maxJobsPerOwner: config.maxJobsPerUser, stateDir, wrapper: start.wrapper });
  return { executor, reapOrphans: (liveServers) => executor.reapOrphans(liveServers) };
}
