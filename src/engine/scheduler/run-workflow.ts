/**
 * Runs a loaded process against the host: workflow inputs become input steps; each workflow
 * level's steps go through a StepSchedule (step-schedule.ts: a step starts once the steps it
 * reads from are done, steps with no dependency between them run concurrently, bounded by the
 * Executor), scattered steps fan out one job per element through an ElementSchedule
 * (element-schedule.ts), `when` can skip a step, subworkflows recurse one StepPath level
 * deeper. The schedules decide; the drivers here only carry their decisions out. Every job is
 * first looked up with `findCompletedJob` so a resumed run reuses finished work. The first
 * failure aborts what is still running; the run ends only when every job has ended.
 */
import { setMaxListeners } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { CancelledError, CommandFailedError } from '../../errors.js';
import type { CwlObject, CwlValue } from '../values/cwl-value.js';
import type { CwlType, Process, Requirement, Workflow, WorkflowStep } from '../cwl/model.js';
import type { StepInfo, StepPath } from '../engine-host.js';
import { evaluatorFor, expressionOptions } from '../job/job-context.js';
import { readContents, resolveFileValues, localPath } from '../values/file-values.js';
import { checkOutput } from '../job/outputs.js';
import { rootScope, scopeFor, type RequirementScope } from '../cwl/requirements.js';
import { runJob } from '../job/run-job.js';
import { recordFailure, type ExecuteOptions, type RunState } from './run-state.js';
import { mergeSources } from './merge-sources.js';
import { gatherScatter, planScatter } from './scatter.js';
import { elementWindow, runWindowed } from './element-window.js';
import { decideSteps, isRunning, planSteps, withStates } from './step-schedule.js';
import { Settlements } from './settlements.js';
import { asStepFailure, failAsStep } from './step-failure.js';
import { materialized, materializeOutputs, ScatterOutput, type ElementOutputs, type StepOutputs } from './scatter-output.js';
import { completeInputs, withDefaults } from '../job/tool-inputs.js';
import { isFileLike, isObject } from '../values/value-types.js';
import { stringifyJson } from '../../exact-json.js';

/**
 * Runs the process to completion and returns its CWL output object; a large scatter's gathered
 * output may be a ScatterOutput still in the host's store (materializeOutputs reads it all).
 */
export async function executeProcess(process: Process, inputs: CwlObject, options: ExecuteOptions): Promise<StepOutputs> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  if (options.signal.aborted) controller.abort();
  setMaxListeners(0, controller.signal);
  // Once for the run: every job's logs are files directly in it.
  await mkdir(options.logsDir, { recursive: true });
  const run: RunState = { ...options, controller, continueOnError: options.onError === 'continue', failedJobs: 0 };
  const scope = rootScope(overridesOf(inputs));
  try {
    const outputs = await runWithRecovery(run, () =>
      process.class === 'Workflow'
        ? runWorkflow(process, inputs, [], scope, run)
        : runBareTool(process, inputs, scope, run),
    );
    if (options.signal.aborted) throw new CancelledError();
    return outputs;
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
}

/** Top-level step list: inputs 0..k-1, then the workflow's steps (or the bare tool) from k. */
export function describeTopLevelSteps(process: Process): StepInfo[] {
  const inputs = process.inputs.map((input, i): StepInfo => ({ path: [{ order: i }], kind: 'input', label: input.id, scattered: false }));
  const k = inputs.length;
  if (process.class !== 'Workflow') {
    return [...inputs, { path: [{ order: k }], kind: 'tool', label: shortLabel(process), toolId: toolIdOf(process), scattered: false }];
  }
  return [...inputs, ...process.steps.map((step, j) => stepInfo(step, [{ order: k + j }]))];
}

async function runWithRecovery(run: RunState, body: () => Promise<StepOutputs>): Promise<StepOutputs> {
  try {
    return await body();
  } catch (error) {
    const first = run.firstError ?? error;
    if (run.failedJobs > 1 && first instanceof CommandFailedError) {
      // on_error continue: the run's message says how many jobs failed; the task list names them.
      throw new CommandFailedError(`${run.failedJobs} jobs failed; the first: ${first.message}`, { cause: first });
    }
    throw first;
  }
}

/** Requirements an input object carries under `cwl:requirements`. */
function overridesOf(inputs: CwlObject): Requirement[] {
  const given = inputs['cwl:requirements'];
  return Array.isArray(given) ? given.filter(isObject).map((r) => ({ ...r, class: String(r.class) })) : [];
}

async function runBareTool(tool: Exclude<Process, Workflow>, inputs: CwlObject, scope: RequirementScope, run: RunState): Promise<CwlObject> {
  const k = await reportInputs(tool, [], run);
  const path: StepPath = [{ order: k }];
  await run.host.stepStarted({ path, kind: 'tool', label: shortLabel(tool), toolId: toolIdOf(tool), scattered: false });
  return runJob(tool, inputs, path, undefined, scopeFor(tool, undefined, scope), shortLabel(tool), run, true);
}

async function reportInputs(process: Process, prefix: StepPath, run: RunState): Promise<number> {
  for (const [i, input] of process.inputs.entries()) {
    await run.host.stepStarted({ path: [...prefix, { order: i }], kind: 'input', label: input.id, scattered: false });
  }
  return process.inputs.length;
}

async function runWorkflow(
  workflow: Workflow,
  given: CwlObject,
  prefix: StepPath,
  parentScope: RequirementScope,
  run: RunState,
): Promise<StepOutputs> {
  const scope = scopeFor(workflow, undefined, parentScope);
  let inputs = await failAsStep(() => withDefaults(workflow, given), workflow.id);
  if (prefix.length === 0) {
    // Top-level workflow inputs: secondaryFiles are discovered next to the files given.
    const defaults = inputs;
    const evaluate = evaluatorFor(defaults, {}, expressionOptions(scope, run.runDir, run.controller.signal));
    inputs = await failAsStep(() => completeInputs(workflow, defaults, scope, evaluate, true, run.policy), workflow.id);
  }
  const k = await reportInputs(workflow, prefix, run);
  const results = await runSteps(workflow, inputs, run, (step, j, sourceValue) => runStep(step, [...prefix, { order: k + j }], scope, sourceValue, run));
  const gatheredValue = (source: string): CwlValue | ScatterOutput => gatheredFrom(source, inputs, results);
  const sourceValue = async (source: string): Promise<CwlValue> => materialized(gatheredValue(source));
  const outputs: StepOutputs = {};
  for (const output of workflow.outputs) {
    const items = arrayItems(output.type);
    if (output.outputSource.length === 1 && output.linkMerge === undefined && output.pickValue === undefined && items !== undefined) {
      const value = gatheredValue(output.outputSource[0]);
      if (value instanceof ScatterOutput) {
        // Passed on unread: checked element by element wherever it is read.
        outputs[output.id] = value.checkedBy((element, index) => {
          try {
            checkOutput(`${output.id}[${index}]`, element, items);
          } catch (error) {
            throw asStepFailure(error, workflow.id);
          }
        });
        continue;
      }
    }
    const values = await Promise.all(output.outputSource.map(sourceValue));
    outputs[output.id] = await failAsStep(() => {
      const value = mergeSources(values, output.linkMerge, output.pickValue, `output ${output.id}`);
      checkOutput(output.id, value, output.type);
      return value;
    }, workflow.id);
  }
  return outputs;
}

type StepRunner = (step: WorkflowStep, index: number, sourceValue: (source: string) => Promise<CwlValue>) => Promise<StepOutputs>;

/**
 * Carries out the workflow's StepSchedule: starts what it says, feeds back each step's end.
 * Returns every step's outputs by id once all are done; otherwise throws the run's first failure
 * (or, canceled, a CancelledError).
 */
async function runSteps(workflow: Workflow, inputs: CwlObject, run: RunState, runOne: StepRunner): Promise<ReadonlyMap<string, StepOutputs>> {
  let schedule = planSteps(workflow);
  const results = new Map<string, StepOutputs>();
  const sourceValue = async (source: string): Promise<CwlValue> => materialized(gatheredFrom(source, inputs, results));
  const running = new Settlements<number, StepOutputs>();
  let stepError: unknown;
  for (;;) {
    const { start, notRun } = decideSteps(schedule, run.controller.signal.aborted);
    schedule = withStates(withStates(schedule, notRun, 'not-run'), start, 'running');
    for (const i of start) running.add(i, runOne(workflow.steps[i], i, sourceValue));
    if (!isRunning(schedule)) break;
    const ended = await running.next();
    if (ended.ok) {
      results.set(workflow.steps[ended.key].id, ended.value);
      schedule = withStates(schedule, [ended.key], 'done');
    } else {
      recordFailure(run, ended.error);
      stepError ??= ended.error;
      schedule = withStates(schedule, [ended.key], 'failed');
    }
  }
  if (schedule.states.some((state) => state !== 'done')) throw run.firstError ?? stepError ?? new CancelledError();
  return results;
}

/** A source's value: a workflow input, or an output of a step that is done. */
function gatheredFrom(source: string, inputs: CwlObject, results: ReadonlyMap<string, StepOutputs>): CwlValue | ScatterOutput {
  if (source in inputs) return inputs[source];
  const slash = source.lastIndexOf('/');
  return results.get(source.slice(0, slash))?.[source.slice(slash + 1)] ?? null;
}

async function runStep(
  step: WorkflowStep,
  path: StepPath,
  workflowScope: RequirementScope,
  sourceValue: (source: string) => Promise<CwlValue>,
  run: RunState,
): Promise<StepOutputs> {
  const gathered: CwlObject = {};
  for (const input of step.in) {
    const values = await Promise.all(input.source.map(sourceValue));
    const merge = (): CwlValue => mergeSources(values, input.linkMerge, input.pickValue, `${step.id}/${input.id}`);
    let value = input.source.length === 0 ? null : await failAsStep(merge, step.id);
    if (value === null && input.default !== undefined) value = resolveFileValues(input.default, step.run.documentUrl);
    if (input.loadContents && isFileLike(value) && typeof value.location === 'string') {
      const file = localPath(value.location);
      const what = `${step.id}/${input.id}`;
      if (file !== undefined) value = { ...value, contents: await failAsStep(() => readContents(run.policy, file, what), step.id) };
    }
    gathered[input.id] = value;
  }
  if (run.controller.signal.aborted) throw new CancelledError();
  await run.host.stepStarted(stepInfo(step, path));
  const stepScope = scopeFor(step.run, step, workflowScope);
  const options = expressionOptions({
    overrides: workflowScope.overrides,
    requirements: [...step.requirements, ...workflowScope.requirements],
    hints: [...step.hints, ...workflowScope.hints],
  }, run.runDir, run.controller.signal);
  const runElement = async (values: CwlObject, element: number | undefined): Promise<StepOutputs> => {
    const ready: CwlObject = { ...values };
    for (const input of step.in) {
      if (input.valueFrom !== undefined) {
        const valueFrom = input.valueFrom;
        ready[input.id] = await failAsStep(() => evaluatorFor(values, {}, options)(valueFrom, values[input.id] ?? null), step.id);
      }
    }
    if (step.when !== undefined) {
      const when = step.when;
      const condition = await failAsStep(() => evaluatorFor(ready, {}, options)(when, null), step.id);
      if (typeof condition !== 'boolean') {
        throw new CommandFailedError(`step ${step.id}: when must evaluate to a boolean, got ${stringifyJson(condition)}`);
      }
      if (!condition) {
        await run.host.jobEnded(path, element, { state: 'skipped' }, new Date());
        return Object.fromEntries(step.out.map((o) => [o, null]));
      }
    }
    const runInputs: CwlObject = {};
    for (const input of step.run.inputs) runInputs[input.id] = ready[input.id] ?? null;
    if (step.run.class === 'Workflow') {
      const innerPrefix = element === undefined ? path : [...path.slice(0, -1), { order: path[path.length - 1].order, element }];
      const outputs = await runWorkflow(step.run, runInputs, innerPrefix, stepScope, run);
      return pickOutputs(outputs, step.out);
    }
    return pickOutputs(await runJob(step.run, runInputs, path, element, stepScope, step.id, run), step.out);
  };
  if (step.scatter.length === 0) return runElement(gathered, undefined);
  const plan = await failAsStep(() => planScatter(gathered, step.scatter, step.scatterMethod), step.id);
  const count = plan.count;
  // A scattered subworkflow's elements are inner steps, not jobs of this step: nothing to plan.
  const jobs = step.run.class !== 'Workflow';
  if (jobs) await run.host.scatterSized(path, count);
  // A job's outputs are in the host's store once it has ended; anything else is kept here.
  const stored = jobs ? run.host.scatterOutputs?.bind(run.host) : undefined;
  const kept = stored === undefined ? new Array<CwlObject | undefined>(count) : undefined;
  const window = await runWindowed(count, elementWindow(run.executor.capacity), run.controller.signal, async (e) => {
    const outputs = await runElement(plan.element(e), e);
    if (kept !== undefined) kept[e] = await materializeOutputs(outputs);
  });
  if (jobs && window.notStarted < count) await run.host.elementsNotRun(path, window.notStarted, count);
  if (window.failure !== undefined) throw window.failure.error;
  if (run.controller.signal.aborted) throw new CancelledError();
  const read: ElementOutputs = stored === undefined ? async (from, to) => (kept ?? []).slice(from, to) : (from, to) => stored(path, from, to);
  return gatherScatter(plan, read, step.out);
}

function pickOutputs(outputs: StepOutputs, names: readonly string[]): StepOutputs {
  return Object.fromEntries(names.map((n) => [n, outputs[n] ?? null]));
}

/** The item type of an array type; undefined for any other type (a union, Any, …). */
function arrayItems(type: CwlType): CwlType | undefined {
  return typeof type === 'object' && !Array.isArray(type) && type.type === 'array' ? type.items : undefined;
}

function stepInfo(step: WorkflowStep, path: StepPath): StepInfo {
  return {
    path,
    kind: step.run.class === 'Workflow' ? 'subworkflow' : 'tool',
    label: step.id,
    toolId: toolIdOf(step.run),
    scattered: step.scatter.length > 0,
  };
}

function toolIdOf(process: Process): string {
  const hash = process.id.indexOf('#');
  if (hash >= 0 && !/^[0-9a-f-]{36}$/.test(process.id.slice(hash + 1))) return process.id.slice(hash + 1);
  return basename(new URL(process.documentUrl).pathname);
}

function shortLabel(process: Process): string {
  return process.label ?? toolIdOf(process);
}
