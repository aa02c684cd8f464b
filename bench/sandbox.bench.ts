/**
 * Cost per job of the bubblewrap sandbox: N short jobs (`true`) through a LocalExecutor,
 * unconfined and then sandboxed exactly as the server starts them (mount list of an out/ and
 * tmp/ directory, per-job cgroups, no network), and optionally with NetworkAccess
 * (slirp4netns). Prints wall time and ms per job for each, and the sandbox's extra ms per job.
 *
 *   npm run bench:sandbox -- [--jobs 1000] [--parallel 2] [--network]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { BwrapWrapper } from '../src/executors/sandbox/bwrap-wrapper.js';
import type { CommandWrapper, JobSpec } from '../src/executors/executor.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000' },
    parallel: { type: 'string', default: String(availableParallelism()) },
    network: { type: 'boolean', default: false },
  },
});
const jobs = Number(args.jobs);
const parallel = Number(args.parallel);

async function jobSpecs(root: string, network: boolean): Promise<JobSpec[]> {
  const specs: JobSpec[] = [];
  for (let i = 0; i < jobs; i++) {
    const dir = path.join(root, 'runs', 'bench', 'jobs', String(i));
    const outdir = path.join(dir, 'out');
    const tmp = path.join(dir, 'tmp');
    await mkdir(outdir, { recursive: true });
    await mkdir(tmp, { recursive: true });
    specs.push({
      id: dir,
      argv: ['true'],
      cwd: outdir,
      env: { PATH: '/usr/bin:/bin', HOME: outdir, TMPDIR: tmp },
      stdoutPath: path.join(dir, 'stdout.log'),
      stderrPath: path.join(dir, 'stderr.log'),
      cores: 1,
      ramMiB: 256,
      confinement: {
        mounts: [
          { hostPath: outdir, jobPath: outdir, writable: true },
          { hostPath: tmp, jobPath: tmp, writable: true },
        ],
        network,
      },
    });
  }
  return specs;
}

async function timeJobs(label: string, specs: readonly JobSpec[], wrapper: CommandWrapper | undefined): Promise<number> {
  const executor = new LocalExecutor({ maxJobs: parallel, cores: parallel, wrapper });
  const signal = new AbortController().signal;
  const started = process.hrtime.bigint();
  const results = await Promise.all(specs.map((spec) => executor.submit(spec, signal).result));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await executor.shutdown();
  const failed = results.filter((r) => r.outcome.kind !== 'exited' || r.outcome.exitCode !== 0);
  if (failed.length > 0) throw new Error(`${label}: ${failed.length} jobs failed: ${JSON.stringify(failed[0].outcome)}`);
  console.log(`${label.padEnd(28)} ${jobs} jobs in ${(ms / 1000).toFixed(2)} s = ${(ms / jobs).toFixed(1)} ms/job`);
  return ms;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'wes-bench-sandbox-'));
  try {
    const sandbox = await BwrapWrapper.create({ hiddenPaths: [root], stateDir: path.join(root, 'sandbox'), maxProcesses: 1024 });
    console.log(`${jobs} jobs of \`true\`, ${parallel} at once; sandbox: ${sandbox.description}`);
    const bare = await timeJobs('unconfined', await jobSpecs(path.join(root, 'bare'), false), undefined);
    const boxed = await timeJobs('bubblewrap', await jobSpecs(path.join(root, 'boxed'), false), sandbox);
    console.log(`sandbox cost: ${((boxed - bare) / jobs).toFixed(1)} ms/job more (${(boxed / bare).toFixed(2)}x)`);
    if (args.network) {
      const networked = await timeJobs('bubblewrap + slirp4netns', await jobSpecs(path.join(root, 'net'), true), sandbox);
      console.log(`NetworkAccess cost: ${((networked - boxed) / jobs).toFixed(1)} ms/job more than the sandbox alone`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
