/**
 * One CommandLineTool job: a fresh directory under runDir/jobs (out = the tool's working
 * directory and runtime.outdir, tmp, stage), inputs completed and staged, the initial
 * working directory built, the command line and environment assembled, the command handed
 * to the Executor, its exit code judged against success/temporaryFail/permanentFail codes,
 * and the outputs collected. The job's own stdout/stderr logs live in ctx.logsDir, outside
 * every directory the job may write; `stdout:`/`stderr:` name plain files in out/.
 */
import { availableParallelism, totalmem } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CancelledError } from '../../errors.js';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import type { CommandLineTool } from '../cwl/model.js';
import { buildCommandLine } from './command-line.js';
import { stageInitialWorkDir } from './initial-work-dir.js';
import { containerFor } from './docker-requirement.js';
import { jobConfinement } from './job-mounts.js';
import { evaluatorFor, expressionOptions, JobFailedError, type JobContext, type JobResultValue } from './job-context.js';
import { collectOutputs } from './outputs.js';
import { checkBasename, PathEscapeError } from '../values/path-policy.js';
import { findRequirement, type RequirementScope } from '../cwl/requirements.js';
import { stageValues } from './staging.js';
import { completeInputs, withDefaults } from './tool-inputs.js';
import { isFileLike, isObject } from '../values/value-types.js';

export async function runCommandLineTool(tool: CommandLineTool, given: CwlObject, ctx: JobContext): Promise<JobResultValue> {
  const container = await containerFor(ctx.scope, tool.documentUrl, ctx.containers, dirname(ctx.runDir));
  const jobDir = join(ctx.runDir, 'jobs', ctx.jobName);
  const outdir = join(jobDir, 'out');
  const tmpdir = join(jobDir, 'tmp');
  const attached = await ctx.attach();
  // A reattached job's directory holds its outputs; staging over it again keeps its links. An
  // earlier attempt's logs are truncated when the job starts (never through a link: the
  // launcher opens them with O_NOFOLLOW).
  if (attached === undefined) await freshDirectory(jobDir);
  await mkdir(outdir, { recursive: true });
  await mkdir(tmpdir, { recursive: true });
  const options = expressionOptions(ctx.scope, ctx.runDir, ctx.signal);
  const defaults = withDefaults(tool, given);
  // In a container with dockerOutputDirectory the job knows its output directory by that name.
  const paths = { outdir: container?.outputDirectory ?? outdir, tmpdir };
  const completed = await completeInputs(tool, defaults, ctx.scope, evaluatorFor(defaults, paths, options), ctx.discoverSecondaryFiles, ctx.policy);
  const resources = await resourcesOf(ctx.scope, evaluatorFor(completed, paths, options));
  const runtime: CwlObject = { ...paths, ...resources };
  const stageDir = join(jobDir, 'stage');
  let inputs = (await stageValues(completed, stageDir, ctx.policy)) as CwlObject;
  const iwd = findRequirement(ctx.scope, 'InitialWorkDirRequirement');
  const inplaceUpdate = findRequirement(ctx.scope, 'InplaceUpdateRequirement')?.inplaceUpdate === true;
  const containerEntries = container === undefined ? undefined : { hostRoot: join(jobDir, 'root'), absoluteNames: container.required, mounts: [] };
  const moved = iwd === undefined ? new Map<string, string>() : await stageInitialWorkDir(
          iwd,
          outdir,
          evaluatorFor(inputs, runtime, options),
          inplaceUpdate,
          ctx.policy,
          containerEntries,
        );
  inputs = followMoves(inputs, moved) as CwlObject;
  const evaluate = evaluatorFor(inputs, runtime, options);
  const shell = findRequirement(ctx.scope, 'ShellCommandRequirement') !== undefined;
  const argv = await buildCommandLine(tool, inputs, evaluate, shell);
  const streamName = async (stream: string, expression: string): Promise<string> => {
    const name = await evaluate(expression, null);
    if (typeof name !== 'string' || name === '') throw new JobFailedError(`${ctx.label}: ${stream} name ${expression} is not a string`);
    return name;
  };
  // stdout/stderr: a plain file name in the output directory (as cwltool requires).
  const output = async (stream: 'stdout' | 'stderr', expression: string | undefined): Promise<string> => {
    if (expression === undefined) return `${ctx.logPrefix}.${stream}.log`;
    const name = checkBasename(await streamName(stream, expression), `${ctx.label}: ${stream}`);
    const target = join(outdir, name);
    await ctx.policy.writable(target, `${stream} ${JSON.stringify(name)}`, outdir);
    return target;
  };
  const input = async (expression: string): Promise<string> => {
    const name = await streamName('stdin', expression);
    return ctx.policy.readable(resolve(outdir, name), `stdin ${JSON.stringify(name)}`).catch((error: unknown) => {
      if (error instanceof PathEscapeError) throw error;
      throw new JobFailedError(`${ctx.label}: stdin ${JSON.stringify(name)} does not exist`);
    });
  };
  const stdinPath = tool.stdin === undefined ? undefined : await input(tool.stdin);
  const stdoutPath = await output('stdout', tool.stdout);
  const stderrPath = await output('stderr', tool.stderr);
  // A container keeps its image's PATH.
  const env: Record<string, string> = {
    ...(container === undefined ? { PATH: process.env.PATH ?? '/usr/bin:/bin' } : {}),
    HOME: paths.outdir,
    TMPDIR: tmpdir,
  };
  const envVars = findRequirement(ctx.scope, 'EnvVarRequirement');
  for (const def of Array.isArray(envVars?.envDef) ? envVars.envDef : []) {
    if (isObject(def as CwlValue)) {
      const entry = def as CwlObject;
      env[String(entry.envName)] = String(await evaluate(entry.envValue, null));
    }
  }
  const timeLimit = findRequirement(ctx.scope, 'ToolTimeLimit');
  const seconds = timeLimit === undefined ? 0 : Number(await evaluate(timeLimit.timelimit as CwlValue, null));
  if (!(seconds >= 0)) throw new JobFailedError(`${ctx.label}: ToolTimeLimit must be a non-negative number, got ${seconds}`);
  const network = findRequirement(ctx.scope, 'NetworkAccess');
  const view = await jobConfinement(
    { outdir, tmpdir, stageDir, outputDirectory: container?.outputDirectory, entriesRoot: containerEntries?.hostRoot },
    {
      network: network !== undefined && (await evaluate(network.networkAccess as CwlValue, null)) === true,
      inplaceUpdate,
      extraMounts: containerEntries?.mounts,
    },
  );
  const confinement = container === undefined ? view : { ...view, image: container.image, imageSource: container.source };
  await ctx.created({ argv, workDir: outdir, stdoutPath, stderrPath });
  const handle = attached ?? ctx.executor.submit(
    {
      id: jobDir,
      argv,
      cwd: outdir,
      env,
      stdinPath,
      stdoutPath,
      stderrPath,
      timeLimitSeconds: seconds,
      cores: Math.min(resources.cores, availableParallelism()),
      ramMiB: Math.min(resources.ram, Math.floor(totalmem() / 1024 / 1024 / 2)),
      confinement,
    },
    ctx.signal,
    ctx.started,
    ctx.submitted,
  );
  const { outcome, usage } = await handle.result;
  if (usage !== undefined) ctx.measured?.(usage);
  if (outcome.kind === 'canceled' || ctx.signal.aborted) throw new CancelledError();
  if (outcome.kind === 'timed-out') throw new JobFailedError(`${ctx.label}: exceeded its time limit of ${seconds}s`);
  if (outcome.kind === 'failed-to-start') throw new JobFailedError(`${ctx.label}: could not start: ${outcome.message}`);
  const code = outcome.exitCode;
  const failed =
    tool.temporaryFailCodes.includes(code) || tool.permanentFailCodes.includes(code) || !tool.successCodes.includes(code);
  if (failed) throw new JobFailedError(`${ctx.label}: command ${argv.join(' ')} exited with code ${code}`, code);
  const loadListing = findRequirement(ctx.scope, 'LoadListingRequirement')?.loadListing;
  const outputs = await collectOutputs(tool.outputs, {
    outdir,
    evaluate: evaluatorFor(inputs, { ...runtime, exitCode: code }, options),
    loadListing: typeof loadListing === 'string' ? loadListing : tool.cwlVersion === 'v1.0' ? 'deep_listing' : 'no_listing',
    policy: ctx.policy,
  });
  return { outputs, exitCode: code };
}

async function resourcesOf(
  scope: RequirementScope,
  evaluate: (e: CwlValue | undefined, self: CwlValue) => Promise<CwlValue>,
): Promise<{ cores: number; ram: number; outdirSize: number; tmpdirSize: number }> {
  const r = findRequirement(scope, 'ResourceRequirement');
  // The minimum is what a job reserves; the maximum only stands in when no minimum is given.
  const pick = async (min: unknown, max: unknown, fallback: number): Promise<number> => {
    const value = await evaluate((min ?? max ?? fallback) as CwlValue, null);
    return typeof value === 'number' ? Math.ceil(value) : fallback;
  };
  return {
    cores: await pick(r?.coresMin, r?.coresMax, 1),
    ram: await pick(r?.ramMin, r?.ramMax, 256),
    outdirSize: await pick(r?.outdirMin, r?.outdirMax, 1024),
    tmpdirSize: await pick(r?.tmpdirMin, r?.tmpdirMax, 1024),
  };
}

/** Input values whose files were placed in the working directory point at them there. */
function followMoves(value: CwlValue, moved: Map<string, string>): CwlValue {
  if (moved.size === 0) return value;
  if (Array.isArray(value)) return value.map((v) => followMoves(v, moved));
  if (!isObject(value)) return value;
  const out: CwlObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = followMoves(v, moved);
  if (isFileLike(value) && typeof value.path === 'string') {
    const target = moved.get(value.path);
    if (target !== undefined) {
      out.path = target;
      out.dirname = target.slice(0, target.lastIndexOf('/'));
    }
  }
  return out;
}

/**
 * Makes `dir` a new, empty directory, removing whatever an earlier attempt left there (its
 * files, or a link its job planted, which is removed and not followed). A new job's directory
 * does not exist yet: one mkdir, where removing first cost a failed lstat and an exception.
 */
async function freshDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The parent is missing too (the run's first job): nothing to remove.
    if (code === 'ENOENT') {
      await mkdir(dir, { recursive: true });
      return;
    }
    if (code !== 'EEXIST') throw error;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
}
