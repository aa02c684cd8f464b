/**
 * One job of a run: reuse the outputs of an earlier attempt if the host has them (resume),
 * otherwise run the tool in its own directory and report created/started/ended to the host.
 * A job failure becomes a CommandFailedError naming the step, and stops the rest of the run
 * (unless it continues on errors).
 */
import { join } from 'node:path';
import { CancelledError, CommandFailedError, errorMessage } from '../../errors.js';
import { publicText } from '../../run-layout.js';
import type { CwlObject } from '../values/cwl-value.js';
import type { Process, Workflow } from '../cwl/model.js';
import type { StepPath } from '../engine-host.js';
import type { JobUsage } from '../../executors/executor.js';
import { JobFailedError, type JobContext } from './job-context.js';
import type { RequirementScope } from '../cwl/requirements.js';
import { runCommandLineTool } from './run-command-line-tool.js';
import { runExpressionTool } from './run-expression-tool.js';
import { Reattachment } from './reattach.js';
import { recordFailure, type RunState } from '../scheduler/run-state.js';
import { isJobFailure } from '../scheduler/step-failure.js';

export async function runJob(
  process: Exclude<Process, Workflow>,
  inputs: CwlObject,
  path: StepPath,
  element: number | undefined,
  scope: RequirementScope,
  label: string,
  run: RunState,
  topLevel = false,
): Promise<CwlObject> {
  const done = await run.host.findCompletedJob(path, element);
  if (done !== undefined) return done;
  if (run.controller.signal.aborted) throw new CancelledError();
  // Reports made from executor callbacks, in order; awaited before the job's end is reported.
  let startedReport: Promise<void> = Promise.resolve();
  const report = (write: () => Promise<void> | undefined): void => {
    startedReport = startedReport.then(write);
  };
  const reattachment = new Reattachment(run.host, path, element);
  let usage: JobUsage | undefined;
  const name = jobName(path, element, label);
  const ctx: JobContext = {
    runDir: run.runDir,
    logPrefix: join(run.logsDir, name),
    policy: run.policy,
    jobName: name,
    label: element === undefined ? `step ${label}` : `step ${label} (element ${element})`,
    executor: run.executor,
    containers: run.containers === true,
    signal: run.controller.signal,
    scope,
    discoverSecondaryFiles: topLevel,
    created: async (job) => {
      await run.host.jobCreated(path, element, job);
      reattachment.replay(ctx);
    },
    started: (at) => report(() => run.host.jobStarted(path, element, at)),
    attach: () => reattachment.attach(run.executor, run.controller.signal),
    submitted: (externalId) => report(() => run.host.jobSubmitted?.(path, element, externalId)),
    measured: (measuredUsage) => (usage = measuredUsage),
  };
  try {
    const result = process.class === 'CommandLineTool' ? await runCommandLineTool(process, inputs, ctx) : await runExpressionTool(process, inputs, ctx);
    await startedReport;
    await run.host.jobEnded(path, element, { state: 'ok', exitCode: result.exitCode, outputs: result.outputs, usage }, new Date());
    return result.outputs;
  } catch (error) {
    await startedReport.catch(() => undefined);
    if (error instanceof CancelledError || run.controller.signal.aborted) {
      await run.host.jobEnded(path, element, { state: 'canceled' }, new Date());
      throw error instanceof CancelledError ? error : new CancelledError();
    }
    // Messages are shown to the user: no server paths.
    const message = publicText(errorMessage(error), run.policy.runDir);
    const exitCode = error instanceof JobFailedError ? error.exitCode : undefined;
    await run.host.jobEnded(path, element, { state: 'failed', exitCode, message, usage }, new Date());
    const failure = isJobFailure(error)
      ? new CommandFailedError(message.startsWith('step ') ? message : `${ctx.label}: ${message}`, { cause: error })
      : error;
    // Unless the run continues on errors, siblings (other scatter elements, parallel steps) stop now.
    run.failedJobs++;
    recordFailure(run, failure);
    throw failure;
  }
}

/** Directory name of a job, unique within the run and stable across attempts. */
function jobName(path: StepPath, element: number | undefined, label: string): string {
  const coords = path.map((c) => (c.element === undefined ? `${c.order}` : `${c.order}.${c.element}`)).join('-');
  const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
  return `${coords}${element === undefined ? '' : `_${element}`}-${safe}`;
}
