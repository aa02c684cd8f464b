/**
 * What the engine tells its host (the runner, which records it in the store; or the
 * conformance runner, which only logs) while a CWL process runs, and what it asks back on
 * resume. The engine never imports the store: every fact about progress goes through here.
 *
 * Addressing: a step instance is a StepPath. Top-level workflow inputs are steps 0..k-1,
 * the workflow's steps follow in document order (k, k+1, …). Inside a subworkflow step the
 * inner inputs/steps are numbered the same way, one level deeper:
 *   [{order: 3}]                               top-level step 3
 *   [{order: 3}, {order: 1}]                   inner step 1 of subworkflow step 3
 *   [{order: 3, element: 2}, {order: 1}]       inner step 1 of element 2 of scattered subworkflow 3
 * A job is (StepPath, element): element is undefined for a step's single job and the flat
 * scatter index (0-based, in output order) for one element of a scattered step.
 */
import type { CwlObject } from './values/cwl-value.js';
import type { JobUsage } from '../executors/executor.js';

export interface StepCoordinate {
  readonly order: number;
  readonly element?: number;
}
export type StepPath = readonly StepCoordinate[];

export type StepKind = 'input' | 'tool' | 'subworkflow';

export interface StepInfo {
  readonly path: StepPath;
  readonly kind: StepKind;
  /** The step's label/id in the document (e.g. "compile"), if any. */
  readonly label?: string;
  /** The tool's id or basename of its file (e.g. "tar-param.cwl"), if any. */
  readonly toolId?: string;
  /** True when the step is scattered: its jobs are one per element. */
  readonly scattered: boolean;
}

export interface JobRecord {
  readonly argv: readonly string[];
  readonly workDir: string;
  readonly stdoutPath: string;
  readonly stderrPath: string;
}

export type JobEnd =
  | { readonly state: 'ok'; readonly exitCode?: number; readonly outputs: CwlObject; readonly usage?: JobUsage }
  | { readonly state: 'failed'; readonly exitCode?: number; readonly message: string; readonly usage?: JobUsage }
  | { readonly state: 'skipped' }
  | { readonly state: 'canceled' };

export interface EngineHost {
  /** Called once per step instance before any of its jobs (again on resume: must be idempotent). */
  stepStarted(step: StepInfo): Promise<void>;
  /**
   * A scattered tool step's element count is known (0 for an empty scatter): every element's job
   * is planned (the store lists them queued) before the first runs. Idempotent. (A scattered
   * subworkflow's elements are reported as its inner steps instead.)
   */
  scatterSized(path: StepPath, elements: number): Promise<void>;
  /** The run stopped before elements [from, to) of a sized scatter started: they never will. */
  elementsNotRun(path: StepPath, from: number, to: number): Promise<void>;
  /** A job exists and is about to be queued; called before jobStarted. Idempotent on resume. */
  jobCreated(path: StepPath, element: number | undefined, job: JobRecord): Promise<void>;
  /** The job's process really started. */
  jobStarted(path: StepPath, element: number | undefined, startedAt: Date): Promise<void>;
  /** The job ended (ok, failed, skipped by `when`, canceled). */
  jobEnded(path: StepPath, element: number | undefined, end: JobEnd, endedAt: Date): Promise<void>;
  /**
   * The outputs of a sized scatter's elements [from, to) that ended ok (undefined for the others),
   * once every one of them has ended: the engine then keeps no element's outputs in memory and
   * reads them back from here, in order, where they are used. Hosts that keep nothing leave it out.
   */
  scatterOutputs?(path: StepPath, from: number, to: number): Promise<readonly (CwlObject | undefined)[]>;
  /**
   * Resume: the outputs of this job if it finished ok in an earlier attempt of the run, so
   * the engine reuses them instead of running it again; undefined otherwise.
   */
  findCompletedJob(path: StepPath, element: number | undefined): Promise<CwlObject | undefined>;
  /**
   * The executor gave the job an id that outlives the server (a Slurm job id); called after
   * jobCreated, once per submission or attach. Hosts that never resume may leave it out.
   */
  jobSubmitted?(path: StepPath, element: number | undefined, externalId: string): Promise<void>;
  /**
   * Resume: the id an earlier attempt's submission of this job got, when that job may still
   * be queued or running (not known to have ended), so the engine attaches to it.
   */
  findExternalJobId?(path: StepPath, element: number | undefined): Promise<string | undefined>;
}
