/**
 * One workflow level's steps as a state machine: which steps may start, which never will, and
 * when the level is over, decided by pure functions of the schedule; runWorkflow only carries
 * the decisions out and feeds back each step's end. A step waits for the steps its inputs read
 * from; it starts once all of them are done, and never runs once one of them did not end done
 * (failed, or itself never run) or once the run is stopping. Promise recursion did this
 * implicitly before, and a cycle between steps hung the run forever; here a cycle is an
 * InvalidWorkflowError before anything at that level starts.
 */
import { InvalidWorkflowError } from '../../errors.js';

export type StepState = 'waiting' | 'running' | 'done' | 'failed' | 'not-run';

export interface StepSchedule {
  /** Per step, in document order. */
  readonly states: readonly StepState[];
  /** Per step, the steps (by index) its inputs read from. */
  readonly upstream: readonly (readonly number[])[];
}

export interface StepDecision {
  /** Steps to start now. */
  readonly start: readonly number[];
  /** Steps that will never run. */
  readonly notRun: readonly number[];
}

/** What scheduling reads of a workflow: which step reads from which. */
export interface StepGraph {
  readonly id: string;
  readonly inputs: readonly { readonly id: string }[];
  readonly steps: readonly { readonly id: string; readonly in: readonly { readonly source: readonly string[] }[] }[];
}

/** The schedule of a workflow's steps, all waiting; throws on an unknown source or a cycle. */
export function planSteps(workflow: StepGraph): StepSchedule {
  const index = new Map(workflow.steps.map((step, i) => [step.id, i]));
  const inputs = new Set(workflow.inputs.map((input) => input.id));
  const upstream = workflow.steps.map((step) => {
    const from = new Set<number>();
    for (const input of step.in) {
      for (const source of input.source) {
        if (inputs.has(source)) continue;
        const slash = source.lastIndexOf('/');
        const i = slash > 0 ? index.get(source.slice(0, slash)) : undefined;
        if (i === undefined) throw new InvalidWorkflowError([`${workflow.id}: step ${step.id} reads ${source}, which is no workflow input or step output`]);
        from.add(i);
      }
    }
    return [...from];
  });
  const cycle = findCycle(upstream);
  if (cycle !== undefined) {
    const names = cycle.map((i) => workflow.steps[i].id);
    throw new InvalidWorkflowError([`${workflow.id}: steps read from each other in a cycle: ${[...names, names[0]].join(' → ')}`]);
  }
  return { states: upstream.map(() => 'waiting'), upstream };
}

/**
 * What to do now. While stopping (canceled, or the first failure when the run stops on errors),
 * nothing starts and every waiting step is never run.
 */
export function decideSteps(schedule: StepSchedule, stopping: boolean): StepDecision {
  const states = [...schedule.states];
  const notRun: number[] = [];
  // Until nothing changes: a step that will never run keeps its own downstream from running.
  for (let changed = true; changed; ) {
    changed = false;
    states.forEach((state, i) => {
      if (state !== 'waiting') return;
      if (stopping || schedule.upstream[i].some((u) => states[u] === 'failed' || states[u] === 'not-run')) {
        states[i] = 'not-run';
        notRun.push(i);
        changed = true;
      }
    });
  }
  const start = states.flatMap((state, i) => (state === 'waiting' && schedule.upstream[i].every((u) => states[u] === 'done') ? [i] : []));
  return { start, notRun };
}

/** The schedule with steps moved to a new state (the caller reports only legal moves). */
export function withStates(schedule: StepSchedule, steps: readonly number[], state: StepState): StepSchedule {
  if (steps.length === 0) return schedule;
  const states = [...schedule.states];
  for (const i of steps) states[i] = state;
  return { ...schedule, states };
}

export function isRunning(schedule: StepSchedule): boolean {
  return schedule.states.includes('running');
}

/** Some step cycle through upstream links (indices in order), if any. */
function findCycle(upstream: readonly (readonly number[])[]): number[] | undefined {
  const mark = new Array<'open' | 'closed' | undefined>(upstream.length);
  const trail: number[] = [];
  const visit = (i: number): number[] | undefined => {
    if (mark[i] === 'closed') return undefined;
    if (mark[i] === 'open') return trail.slice(trail.indexOf(i));
    mark[i] = 'open';
    trail.push(i);
    for (const u of upstream[i]) {
      const cycle = visit(u);
      if (cycle !== undefined) return cycle;
    }
    trail.pop();
    mark[i] = 'closed';
    return undefined;
  };
  for (let i = 0; i < upstream.length; i++) {
    const cycle = visit(i);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}
