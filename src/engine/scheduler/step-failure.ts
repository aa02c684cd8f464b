/**
 * Which errors are the workflow's fault rather than the engine's (a job or expression that
 * failed, an output that does not match, inputs that cannot be merged or scattered), and how
 * such an error outside a job still fails the run as a CommandFailedError naming the step.
 */
import { CommandFailedError } from '../../errors.js';
import { ExpressionError } from '../expressions/expression-error.js';
import { FileContentsError } from '../values/file-values.js';
import { JobFailedError } from '../job/job-context.js';
import { OutputError } from '../job/outputs.js';
import { PathEscapeError } from '../values/path-policy.js';
import { MergeError } from './merge-sources.js';
import { ScatterError } from './scatter.js';
import { StagingError } from '../job/staging.js';

export function isJobFailure(error: unknown): boolean {
  const failures = [JobFailedError, ExpressionError, OutputError, StagingError, MergeError, ScatterError, FileContentsError, PathEscapeError];
  return failures.some((c) => error instanceof c);
}

export async function failAsStep<T>(body: () => T | Promise<T>, label: string): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw asStepFailure(error, label);
  }
}

/** The error a workflow's fault becomes when it happens in step `label`; any other error as it is. */
export function asStepFailure(error: unknown, label: string): unknown {
  return isJobFailure(error) ? new CommandFailedError(`step ${label}: ${(error as Error).message}`, { cause: error }) : error;
}
