/**
 * The workflow_engine_parameters this server understands: listed in service-info, checked on
 * POST /runs (an unknown or malformed one is a 400 naming it), applied by the runner to the
 * run's jobs. A neutral module (like run-launcher.ts) so the API side and the runner share it.
 */
import { BadRequestError } from './errors.js';

export interface EngineParameterDescription {
  readonly name: string;
  readonly type: 'int' | 'string';
  /** Stringified default, as the spec's DefaultWorkflowEngineParameter wants it. */
  readonly default_value: string;
  readonly description: string;
}

export const ENGINE_PARAMETERS: readonly EngineParameterDescription[] = [
  {
    name: 'max_jobs',
    type: 'int',
    default_value: '0',
    description: "most jobs of this run running at once (like cwltool's --parallel with a cap); 0: only the server's limits",
  },
  {
    name: 'job_time_limit',
    type: 'int',
    default_value: '0',
    description: 'seconds each job may run when its tool sets no ToolTimeLimit; 0: none',
  },
  {
    name: 'on_error',
    type: 'string',
    default_value: 'stop',
    description:
      "stop: the first failed job cancels the rest of the run; continue: every job that does not depend on a failed one still runs (cwltool's and Toil's --on-error)",
  },
];

/** The parameters as the runner applies them; absent means the server's default. */
export interface EngineSettings {
  readonly maxJobs?: number;
  readonly jobTimeLimitSeconds?: number;
  readonly onError?: OnError;
}

export type OnError = 'stop' | 'continue';

/** Reads workflow_engine_parameters; throws BadRequestError naming every unknown or bad one. */
export function parseEngineParameters(parameters: Readonly<Record<string, string>> | undefined): EngineSettings {
  const known = new Set(ENGINE_PARAMETERS.map((p) => p.name));
  const unknown = Object.keys(parameters ?? {}).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `workflow_engine_parameters: unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; ` +
        `this engine takes ${ENGINE_PARAMETERS.map((p) => p.name).join(', ')}`,
    );
  }
  const settings: { maxJobs?: number; jobTimeLimitSeconds?: number; onError?: OnError } = {};
  const maxJobs = nonNegativeInt(parameters, 'max_jobs');
  if (maxJobs !== undefined && maxJobs > 0) settings.maxJobs = maxJobs;
  const timeLimit = nonNegativeInt(parameters, 'job_time_limit');
  if (timeLimit !== undefined && timeLimit > 0) settings.jobTimeLimitSeconds = timeLimit;
  const onError = parameters?.on_error;
  if (onError !== undefined) {
    if (onError !== 'stop' && onError !== 'continue') {
      throw new BadRequestError(`workflow_engine_parameters.on_error must be "stop" or "continue", got "${onError}"`);
    }
    settings.onError = onError;
  }
  return settings;
}

function nonNegativeInt(parameters: Readonly<Record<string, string>> | undefined, name: string): number | undefined {
  const text = parameters?.[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < 0) {
    throw new BadRequestError(`workflow_engine_parameters.${name} must be a non-negative integer, got "${text}"`);
  }
  return value;
}
