/**
 * What submitting costs on Slurm: N trivial jobs (`echo`) handed to a SlurmExecutor at once,
 * each as a plain batch job (maxArraySize 1, as before job arrays) and as job arrays (the
 * default). sbatch, squeue and scancel are wrappers that count their calls. Prints, per mode,
 * the sbatch calls, the time until every job had its Slurm id (the server's share) and until
 * every result was in (mostly the cluster's scheduling), then one JSON line. Needs a cluster
 * (scripts/slurm-test-cluster.sh start).
 *
 *   node --import tsx bench/slurm-submit.bench.ts -- [--jobs 200] [--modes plain,arrays]
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

const COMMANDS = ['sbatch', 'squeue', 'scancel'] as const;

async function countedCommands(dir: string): Promise<Record<(typeof COMMANDS)[number], string>> {
  const paths = { sbatch: '', squeue: '', scancel: '' };
  for (const name of COMMANDS) {
    paths[name] = join(dir, name);
    await writeFile(paths[name], `#!/bin/sh\necho >> '${join(dir, `${name}.calls`)}'\nexec ${name} "$@"\n`);
    await chmod(paths[name], 0o755);
  }
  return paths;
}

async function calls(dir: string, name: string): Promise<number> {
  return (await readFile(join(dir, `${name}.calls`), 'utf8').catch(() => '')).split('\n').length - 1;
}

interface Row {
  readonly mode: string;
  readonly jobs: number;
  readonly sbatchCalls: number;
  readonly squeueCalls: number;
  readonly submittedMs: number;
  readonly wallMs: number;
}

async function runJobs(mode: string, jobs: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'wes-bench-slurm-'));
  const executor = new SlurmExecutor({
    stateDir: join(dir, 'state'),
    pollIntervalMs: 500,
    maxArraySize: mode === 'plain' ? 1 : undefined,
    commands: await countedCommands(dir),
  });
  try {
    let submitted = 0;
    let submittedMs = 0;
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: jobs }, (_, i) => {
        const spec = { id: `${dir}/job-${i}`, argv: ['echo', String(i)], cwd: dir, env: { PATH: '/usr/bin:/bin' }, stdoutPath: join(dir, `out-${i}`), stderrPath: join(dir, `err-${i}`), cores: 0.1, ramMiB: 16 };
        return executor.submit(spec, new AbortController().signal, undefined, () => {
          if (++submitted === jobs) submittedMs = performance.now() - started;
        }).result;
      }),
    );
    const wallMs = performance.now() - started;
    const failed = results.filter((r) => r.outcome.kind !== 'exited' || r.outcome.exitCode !== 0).length;
    if (failed > 0) throw new Error(`${mode}: ${failed} of ${jobs} jobs failed`);
    return { mode, jobs, sbatchCalls: await calls(dir, 'sbatch'), squeueCalls: await calls(dir, 'squeue'), submittedMs, wallMs };
  } finally {
    await executor.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

const jobs = Number(args.jobs);
const rows: Row[] = [];
for (const mode of args.modes.split(',')) rows.push(await runJobs(mode, jobs));
console.log(`${jobs} echo jobs submitted at once to Slurm`);
console.log(`${'mode'.padEnd(8)}${'sbatch'.padStart(8)}${'squeue'.padStart(8)}${'submitted s'.padStart(13)}${'wall s'.padStart(9)}`);
for (const row of rows) {
  console.log(`${row.mode.padEnd(8)}${String(row.sbatchCalls).padStart(8)}${String(row.squeueCalls).padStart(8)}${(row.submittedMs / 1000).toFixed(2).padStart(13)}${(row.wallMs / 1000).toFixed(1).padStart(9)}`);
}
console.log(JSON.stringify({ bench: 'slurm-submit', jobs, rows }));
