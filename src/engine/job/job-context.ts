/**
 * What running one job (a CommandLineTool or ExpressionTool invocation) needs from the
 * workflow layer, the error it throws when the job fails, and the expression evaluator bound
 * to a job's inputs and runtime.
 */
import type { JobRecord } from '../engine-host.js';
import type { CwlValue } from '../values/cwl-value.js';
import type { Executor, JobHandle, JobUsage } from '../../executors/executor.js';
import type { PathPolicy } from '../values/path-policy.js';
import {
  evaluateExpression,
  type ExpressionOptions,
  type InterpolationOptions,
} from '../expressions/evaluate-expression.js';
import { findRequirement, type RequirementScope } from '../cwl/requirements.js';

export interface JobContext {
  readonly runDir: string;
  /**
   * This job's stdout/stderr logs are `<logPrefix>.stdout.log` and `.stderr.log`, files in the
   * run's logs directory (runDir/../logs), where no job writes: a file each, not a directory per
   * job, as a new inode costs more than any other call a job makes on some disks.
   */
  readonly logPrefix: string;
  /** The run's confinement check for every file the engine touches for this job. */
  readonly policy: PathPolicy;
  /** Directory name of this job below runDir/jobs; unique within the run. */
  readonly jobName: string;
  /** Human-readable name of the job for messages (the step id). */
  readonly label: string;
  readonly executor: Executor;
  /** A container engine runs jobs with a DockerRequirement (hints are used, not ignored). */
  readonly containers: boolean;
  readonly signal: AbortSignal;
  readonly scope: RequirementScope;
  /** Top-level inputs: secondaryFiles are looked for on disk instead of required present. */
  readonly discoverSecondaryFiles: boolean;
  readonly created: (job: JobRecord) => Promise<void>;
  readonly started: (at: Date) => void;
  /**
   * Resume: the executor's job from an earlier attempt of this run, followed to its end
   * (Executor.attach) — so the job directory is quiet again — or undefined when there is none
   * and the job runs afresh. Called once, before the job directory is touched.
   */
  readonly attach: () => Promise<JobHandle | undefined>;
  /** Executor.submit's onSubmitted: the job's id in an executor that outlives the server. */
  readonly submitted: (externalId: string) => void;
  /** The job's process ended and the executor measured what it used (JobResult.usage). */
  readonly measured?: (usage: JobUsage) => void;
}

export interface JobResultValue {
  readonly outputs: Record<string, CwlValue>;
  readonly exitCode?: number;
}

/** The job ran (or could not) and did not succeed. */
export class JobFailedError extends Error {
  readonly exitCode?: number;
  constructor(message: string, exitCode?: number) {
    super(message);
    this.name = 'JobFailedError';
    this.exitCode = exitCode;
  }
}

/** Expression options in `scope`, for the run in `runDir`; evaluations still pending when `signal` aborts are abandoned. */
export function expressionOptions(scope: RequirementScope, runDir: string, signal: AbortSignal): ExpressionOptions {
  const inline = findRequirement(scope, 'InlineJavascriptRequirement');
  const lib = inline !== undefined && Array.isArray(inline.expressionLib) ? inline.expressionLib.map(String) : [];
  return { javascript: inline !== undefined, expressionLib: lib, queue: runDir, signal };
}

export type Evaluator = (
  expression: CwlValue | undefined,
  self: CwlValue,
  interpolation?: InterpolationOptions,
) => Promise<CwlValue>;

export function evaluatorFor(inputs: CwlValue, runtime: CwlValue, options: ExpressionOptions): Evaluator {
  return (expression, self, interpolation) =>
    evaluateExpression(expression, { inputs, self, runtime }, options, interpolation);
}
