/**
 * The scheduler's pure state machines, driven through random workflows and random orders of
 * completion: what they decide must respect every dependency, start nothing twice, end with
 * nothing waiting, and never let a failure's effects reach past what depends on it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidWorkflowError } from '../../src/errors.js';
import { elementWindow } from '../../src/engine/scheduler/element-window.js';
import { decideSteps, isRunning, planSteps, withStates, type StepGraph, type StepSchedule } from '../../src/engine/scheduler/step-schedule.js';
import {
  elementEnded,
  elementsSettled,
  elementsStarted,
  elementsToStart,
  planElements,
  type ElementSchedule,
} from '../../src/engine/scheduler/element-schedule.js';

/** A random acyclic workflow: step i reads only from steps before it (in a shuffled document order) and from input x. */
const dag = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    reads: fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => j)))),
    order: fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: n, maxLength: n }),
    fails: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    picks: fc.array(fc.nat(), { minLength: 4 * n, maxLength: 4 * n }),
  }),
);

function graphOf(reads: readonly (readonly number[])[], order: readonly number[]): StepGraph {
  const name = (i: number): string => `s${i}`;
  // Step i is at document position order.indexOf(i): the schedule must not rely on document order.
  const steps = order.map((i) => ({ id: name(i), in: [{ source: ['x', ...reads[i].map((j) => `${name(j)}/out`)] }] }));
  return { id: 'wf', inputs: [{ id: 'x' }], steps };
}

interface Trace {
  readonly starts: number[];
  readonly final: StepSchedule;
}

/** Drives a schedule to its end the way runWorkflow does, ending running steps in a random order. */
function drive(schedule: StepSchedule, fails: (i: number) => boolean, picks: readonly number[], stopOnError: boolean, check: (s: StepSchedule, start: readonly number[]) => void): Trace {
  let s = schedule;
  let stopping = false;
  const starts: number[] = [];
  for (let round = 0; ; round++) {
    const { start, notRun } = decideSteps(s, stopping);
    check(s, start);
    s = withStates(withStates(s, notRun, 'not-run'), start, 'running');
    starts.push(...start);
    if (!isRunning(s)) return { starts, final: s };
    const running = s.states.flatMap((state, i) => (state === 'running' ? [i] : []));
    const ended = running[(picks[round % picks.length] ?? 0) % running.length];
    const failed = fails(ended);
    if (failed && stopOnError) stopping = true;
    s = withStates(s, [ended], failed ? 'failed' : 'done');
  }
}

describe('step schedule', () => {
  it('starts each step once, only after every step it reads from is done, and leaves nothing waiting', () => {
    fc.assert(
      fc.property(dag, fc.boolean(), ({ reads, order, fails, picks }, stopOnError) => {
        const schedule = planSteps(graphOf(reads, order));
        // Schedule indices are document positions; map them back to the generated step numbers.
        const step = (position: number): number => order[position];
        const { starts, final } = drive(schedule, (p) => fails[step(p)], picks, stopOnError, (s, start) => {
          for (const p of start) for (const u of s.upstream[p]) assert.equal(s.states[u], 'done', `s${step(p)} started before s${step(u)} was done`);
        });
        assert.equal(new Set(starts).size, starts.length, 'a step started twice');
        assert.ok(final.states.every((state) => state === 'done' || state === 'failed' || state === 'not-run'), `left ${final.states.join(',')}`);
      }),
    );
  });

  it('on_error continue: exactly the steps downstream of a failure do not run', () => {
    fc.assert(
      fc.property(dag, ({ reads, order, fails, picks }) => {
        const { final } = drive(planSteps(graphOf(reads, order)), (p) => fails[order[p]], picks, false, () => undefined);
        // Expected from the generated graph directly: a step runs iff nothing it reads from (transitively) failed.
        const blocked = new Array<boolean>(reads.length);
        for (let i = 0; i < reads.length; i++) blocked[i] = reads[i].some((j) => blocked[j] || fails[j]);
        order.forEach((i, p) => {
          const expected = blocked[i] ? 'not-run' : fails[i] ? 'failed' : 'done';
          assert.equal(final.states[p], expected, `s${i}`);
        });
      }),
    );
  });

  it('on_error stop: nothing starts after the first failure', () => {
    fc.assert(
      fc.property(dag, ({ reads, order, fails, picks }) => {
        let failedYet = false;
        drive(planSteps(graphOf(reads, order)), (p) => fails[order[p]], picks, true, (s, start) => {
          failedYet ||= s.states.includes('failed');
          if (failedYet) assert.deepEqual(start, []);
        });
      }),
    );
  });

  it('rejects steps that read from each other in a cycle, naming them, and sources that name no step', () => {
    const graph = (reads: Record<string, string[]>): StepGraph => ({
      id: 'wf',
      inputs: [{ id: 'x' }],
      steps: Object.entries(reads).map(([id, from]) => ({ id, in: [{ source: from }] })),
    });
    assert.throws(() => planSteps(graph({ a: ['x'], b: ['a/out', 'd/out'], c: ['b/out'], d: ['c/out'] })), (error: unknown) => {
      assert.ok(error instanceof InvalidWorkflowError);
      assert.match(error.message, /cycle: (b → d → c → b|c → b → d → c|d → c → b → d)/);
      return true;
    });
    assert.throws(() => planSteps(graph({ a: ['a/out'] })), /cycle: a → a/);
    assert.throws(() => planSteps(graph({ a: ['nosuch/out'] })), /step a reads nosuch\/out, which is no workflow input or step output/);
    assert.throws(() => planSteps(graph({ a: ['y'] })), /step a reads y/);
    assert.deepEqual(planSteps(graph({ a: ['x'], b: ['a/out', 'x'] })).upstream, [[], [0]]);
  });
});

describe('element schedule', () => {
  const scatter = fc.record({
    count: fc.integer({ min: 0, max: 300 }),
    width: fc.integer({ min: 1, max: 40 }),
    failing: fc.uniqueArray(fc.nat({ max: 299 }), { maxLength: 5 }),
    stopAt: fc.option(fc.nat({ max: 300 }), { nil: undefined }),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
  });

  it('starts elements in order, never more than the window at once, each once; reports the first failure by element and where it stopped', () => {
    fc.assert(
      fc.property(scatter, ({ count, width, failing, stopAt, picks }) => {
        let s: ElementSchedule = planElements(count, width);
        const inFlight: number[] = [];
        const started: number[] = [];
        let ends = 0;
        const stopping = (): boolean => stopAt !== undefined && ends >= stopAt;
        for (let round = 0; ; round++) {
          const { from, to } = elementsToStart(s, stopping());
          assert.equal(from, started.length);
          for (let e = from; e < to; e++) (started.push(e), inFlight.push(e));
          s = elementsStarted(s, to);
          assert.ok(s.inFlight <= width && s.inFlight === inFlight.length);
          if (elementsSettled(s, stopping())) break;
          const [e] = inFlight.splice(picks[round % picks.length] % inFlight.length, 1);
          ends++;
          s = elementEnded(s, e, failing.includes(e) ? { error: `boom ${e}` } : undefined);
        }
        assert.equal(inFlight.length, 0);
        assert.deepEqual(started, Array.from({ length: s.next }, (_, e) => e));
        if (!stopping()) assert.equal(s.next, count);
        const failed = started.filter((e) => failing.includes(e));
        assert.deepEqual(s.failure, failed.length === 0 ? undefined : { element: Math.min(...failed), error: `boom ${Math.min(...failed)}` });
      }),
    );
  });

  it('refuses a window that is not a positive integer', () => {
    assert.throws(() => planElements(10, 0), RangeError);
    assert.throws(() => planElements(10, 1.5), RangeError);
  });

  it("sizes the window by the executor's capacity: a few jobs per slot, within bounds a cluster and a small machine can live with", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), (capacity) => {
        const width = elementWindow(capacity);
        assert.ok(Number.isInteger(width) && width >= 16 && width <= 256, `window ${width} for capacity ${capacity}`);
        assert.ok(width >= Math.min(capacity, 256), 'every slot of the executor can be busy');
        assert.ok(width <= Math.max(16, 4 * capacity), 'no more than a few jobs per slot are prepared');
        assert.ok(elementWindow(capacity + 1) >= width, 'more capacity never narrows the window');
      }),
    );
    assert.equal(elementWindow(2), 16);
    assert.equal(elementWindow(1000), 256);
  });
});
