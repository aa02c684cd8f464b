/** Whether tests can use a Slurm cluster here, and what Slurm says of a job. */
import { spawnSync } from 'node:child_process';
import { isActive, SlurmCommands } from '../../src/executors/slurm/slurm-commands.js';

/** Why Slurm tests cannot run here (the skip reason), or undefined when a node accepts jobs. */
export function slurmClusterProblem(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v sbatch']).status !== 0) return 'sbatch is not on PATH (install slurm-wlm)';
  const sinfo = spawnSync('sinfo', ['--noheader', '--format=%t'], { encoding: 'utf8' });
  if (sinfo.status !== 0 || !/^(idle|mix|alloc)/m.test(sinfo.stdout)) {
    return 'no Slurm node accepts jobs (start one with scripts/slurm-test-cluster.sh start)';
  }
  return undefined;
}

/** True while Slurm lists the job as queued or running. */
export async function slurmJobActive(id: string): Promise<boolean> {
  const state = (await new SlurmCommands().states()).get(id);
  return state !== undefined && isActive(state.state);
}
