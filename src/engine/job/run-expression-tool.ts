/**
 * One ExpressionTool job: its expression evaluated in the sandbox over the completed inputs;
 * the resulting object's fields are the outputs (file literals written to the job's
 * directory, then every value checked against its declared type).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CwlObject } from '../values/cwl-value.js';
import type { ExpressionTool } from '../cwl/model.js';
import { evaluatorFor, expressionOptions, JobFailedError, type JobContext, type JobResultValue } from './job-context.js';
import { checkOutput, finalizeFiles } from './outputs.js';
import { completeInputs, withDefaults } from './tool-inputs.js';
import { isObject } from '../values/value-types.js';

export async function runExpressionTool(tool: ExpressionTool, given: CwlObject, ctx: JobContext): Promise<JobResultValue> {
  const outdir = join(ctx.runDir, 'jobs', ctx.jobName, 'out');
  await rm(join(ctx.runDir, 'jobs', ctx.jobName), { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const options = expressionOptions(ctx.scope, ctx.runDir, ctx.signal);
  const runtime = { outdir, tmpdir: outdir, cores: 1, ram: 256, outdirSize: 1024, tmpdirSize: 1024 };
  const defaults = withDefaults(tool, given);
  const inputs = await completeInputs(tool, defaults, ctx.scope, evaluatorFor(defaults, runtime, options), ctx.discoverSecondaryFiles, ctx.policy);
  await ctx.created({ argv: [], workDir: outdir, stdoutPath: '', stderrPath: '' });
  ctx.started(new Date());
  const result = await evaluatorFor(inputs, runtime, options)(tool.expression, null);
  if (!isObject(result)) throw new JobFailedError(`${ctx.label}: expression did not return an object`);
  const outputs: CwlObject = {};
  for (const output of tool.outputs) {
    const value = await finalizeFiles(result[output.id] ?? null, { outdir, policy: ctx.policy }, `output ${output.id}`);
    checkOutput(output.id, value, output.type);
    outputs[output.id] = value;
  }
  return { outputs };
}
