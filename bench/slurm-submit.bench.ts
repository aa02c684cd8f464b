/**
 * What submitting costs on Slurm: N trivial jobs (`echo`) handed to a SlurmExecutor at once,
 * each as a plain batch job (maxArraySize 1, as before job arrays) and as job arrays (the
 * default). sbatch is a wrapper that counts its calls. Prints, per mode, the sbatch calls and
 * the time until every job had its Slurm id, then one JSON line. Running the jobs is left out
 * (shutdown scancels them): it is the cluster's scheduling, the same both ways, and the
 * one-node test cluster runs about one trivial job a second. Needs a cluster
 * (scripts/slurm-test-cluster.sh start).
 *
 *   node --import tsx bench/slurm-submit.bench.ts [--jobs 200] [--modes plain,arrays]
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SlurmExecutor } from '../src/executors/slurm/slurm-executor.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200' },
    modes: { type: 'string', default: 'plain,arrays' },
  },
});

interface Row {
  readonly mode: string;
  readonly jobs: number;
  readonly sbatchCalls: number;
  readonly submittedMs: number;
}

async function runJobs(mode: string, jobs: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'wes-bench-slurm-'));
  const sbatch = join(dir, 'sbatch');
  await writeFile(sbatch, `#!/bin/sh\necho >> '${dir}/sbatch.calls'\nexec sbatch "$@"\n`);
  await chmod(sbatch, 0o755);
  const executor = new SlurmExecutor({
    stateDir: join(dir, 'state'),
    maxArraySize: mode === 'plain' ? 1 : undefined,
    commands: { sbatch, squeue: 'squeue', scancel: 'scancel' },
  });
  try {
    const started = performance.now();
    let submitted = 0;
    const all = new Promise<number>((resolve, reject) => {
      for (let i = 0; i < jobs; i++) {
        const spec = { id: `${dir}/job-${i}`, argv: ['echo', String(i)], cwd: dir, env: { PATH: '/usr/bin:/bin' }, stdoutPath: join(dir, `out-${i}`), stderrPath: join(dir, `err-${i}`), cores: 0.1, ramMiB: 16 };
        const handle = executor.submit(spec, new AbortController().signal, undefined, () => {
          if (++submitted === jobs) resolve(performance.now() - started);
        });
        void handle.result.then((result) => {
          if (result.outcome.kind !== 'exited' || result.outcome.exitCode !== 0) reject(new Error(`${mode}: job ${i} ended ${JSON.stringify(result.outcome)}`));
        });
      }
    });
    const submittedMs = await all;
    const sbatchCalls = (await readFile(join(dir, 'sbatch.calls'), 'utf8')).split('\n').length - 1;
    return { mode, jobs, sbatchCalls, submittedMs };
  } finally {
    await executor.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

const jobs = Number(args.jobs);
const rows: Row[] = [];
for (const mode of args.modes.split(',')) rows.push(await runJobs(mode, jobs));
console.log(`${jobs} echo jobs submitted at once to Slurm`);
console.log(`${'mode'.padEnd(8)}${'sbatch'.padStart(8)}${'submitted s'.padStart(13)}`);
for (const row of rows) {
  console.log(`${row.mode.padEnd(8)}${String(row.sbatchCalls).padStart(8)}${(row.submittedMs / 1000).toFixed(2).padStart(13)}`);
}
console.log(JSON.stringify({ bench: 'slurm-submit', jobs, rows }));
