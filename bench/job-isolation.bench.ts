/**
 * What isolation costs per job: a scatter of N trivial jobs (`true`) through the engine and a
 * LocalExecutor, run unconfined, in the bubblewrap sandbox as the server starts it (mount list,
 * per-job cgroups, no network), and in a podman container (the tool hints a DockerRequirement,
 * so the same document runs every way). Containers start in about half a second each, so their
 * row uses fewer jobs (--container-jobs). Prints wall time and ms per job for each mode, then
 * one JSON line.
 *
 *   npm run bench:isolation -- [--jobs 1000] [--container-jobs 100] [--parallel 2] [--modes none,bwrap,podman]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { executeProcess, loadProcess, prepareInputs } from '../src/engine/index.js';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { detectContainerEngine } from '../src/executors/container/container-engine.js';
import { containerWrapper } from '../src/executors/container/container-wrapper.js';
import { JobWrapper } from '../src/executors/job-wrapper.js';
import { BwrapWrapper } from '../src/executors/sandbox/bwrap-wrapper.js';
import { PathPolicy } from '../src/engine/values/path-policy.js';
import { buildTestImages } from '../test/helpers/test-images.js';
import { nullEngineHost } from '../test/helpers/null-engine-host.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000' },
    'container-jobs': { type: 'string', default: '100' },
    parallel: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'none,bwrap,podman' },
  },
});

const SCATTER = `cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  items: int[]
outputs: []
steps:
  run:
    run:
      class: CommandLineTool
      hints:
        DockerRequirement: {dockerPull: docker.io/debian:stable-slim}
      baseCommand: 'true'
      inputs:
        item: int
      outputs: []
    scatter: item
    in: {item: items}
    out: []
`;

type Mode = 'none' | 'bwrap' | 'podman';

async function wrapperOf(mode: Mode, dir: string): Promise<JobWrapper> {
  if (mode === 'bwrap') {
    return new JobWrapper({ sandbox: await BwrapWrapper.create({ hiddenPaths: [dir], stateDir: join(dir, 'sandbox'), maxProcesses: 1024 }) });
  }
  const engine = mode === 'podman' ? (await detectContainerEngine(process.env, 'podman')).engine : undefined;
  return new JobWrapper({ container: engine === undefined ? undefined : containerWrapper(engine) });
}

async function runScatter(jobs: number, parallel: number, mode: Mode): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'wes-bench-isolation-'));
  const containers = mode === 'podman';
  try {
    const document = join(dir, 'scatter.cwl');
    await writeFile(document, SCATTER);
    const executor = new LocalExecutor({ maxJobs: parallel, wrapper: await wrapperOf(mode, dir) });
    const process_ = await loadProcess({ documentUrl: document, baseDir: dir, allowUrl: () => true });
    const inputs = prepareInputs(process_, { items: Array.from({ length: jobs }, (_, i) => i) }, dir);
    const started = performance.now();
    const runDir = join(dir, 'run');
    await mkdir(runDir, { recursive: true });
    await executeProcess(process_, inputs, {
      runDir,
      logsDir: join(dir, 'logs'),
      policy: await PathPolicy.create(dir),
      executor,
      containers,
      host: nullEngineHost,
      signal: new AbortController().signal,
    });
    const elapsed = performance.now() - started;
    await executor.shutdown();
    return elapsed;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const parallel = Number(args.parallel);
const rows: { mode: string; jobs: number; wallMs: number; msPerJob: number }[] = [];
for (const mode of args.modes.split(',') as Mode[]) {
  if (mode === 'podman') {
    const detected = await detectContainerEngine(process.env, 'podman');
    const problem = detected.engine === undefined ? detected.problem : await buildTestImages('podman');
    if (problem !== undefined) {
      console.log(`podman: skipped (${problem})`);
      continue;
    }
  } else if (mode !== 'none' && mode !== 'bwrap') {
    console.log(`${String(mode)}: unknown mode (none, bwrap, podman)`);
    continue;
  }
  const jobs = Number(mode === 'podman' ? args['container-jobs'] : args.jobs);
  const wallMs = await runScatter(jobs, parallel, mode);
  rows.push({ mode, jobs, wallMs, msPerJob: wallMs / jobs });
}
console.log(`scatter of trivial jobs, ${parallel} at once`);
console.log(`${'mode'.padEnd(10)}${'jobs'.padStart(8)}${'wall s'.padStart(10)}${'ms/job'.padStart(10)}`);
for (const row of rows) {
  console.log(`${row.mode.padEnd(10)}${String(row.jobs).padStart(8)}${(row.wallMs / 1000).toFixed(1).padStart(10)}${row.msPerJob.toFixed(1).padStart(10)}`);
}
console.log(JSON.stringify({ bench: 'isolation', parallel, rows }));
