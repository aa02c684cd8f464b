/**
 * The executor the configuration asks for (WES_EXECUTOR), ready to use: the one place that
 * chooses, for `wes serve` and for tests alike. Local: process groups recorded under
 * <dataDir>/executor, so that orphans of a crashed server can be stopped. Slurm: the commands
 * checked, status files under <dataDir>/executor/slurm (the data directory must be shared with
 * the nodes).
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { CommandWrapper, Executor } from '../executors/executor.js';
import type { JobSandboxMode } from '../executors/sandbox/job-sandbox.js';
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

/** How local jobs are started: the sandbox mode chosen at start and the wrapper that applies it. */
export interface JobStart {
  readonly sandbox: JobSandboxMode;
  readonly wrapper: CommandWrapper;
}

export async function createExecutor(config: Config, start: JobStart): Promise<ConfiguredExecutor> {
  const stateDir = path.join(config.dataDir, 'executor');
  if (config.executor === 'slurm') {
    // Batch jobs do not go through the sandbox or container wrapper yet: never a silent fallback.
    if (start.sandbox !== 'none') {
      throw new Error('WES_EXECUTOR=slurm runs jobs without the job sandbox or containers; set WES_JOB_SANDBOX=none to accept unconfined jobs');
    }
    const executor = new SlurmExecutor({ stateDir: path.join(stateDir, 'slurm'), ...config.slurm });
    await executor.check();
    return { executor, reapOrphans: async () => 0 };
  }
  const executor = new LocalExecutor({ maxJobs: config.maxJobs, maxJobsPerOwner: config.maxJobsPerUser, stateDir, wrapper: start.wrapper });
  return { executor, reapOrphans: (liveServers) => executor.reapOrphans(liveServers) };
}
