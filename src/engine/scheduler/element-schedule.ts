/**
 * A scatter's elements as a state machine: started in element order, at most `width` in flight,
 * the next one starting as one ends. Starting all of a 100,000-element scatter at once made
 * 100,000 promise chains, job specs and queue entries live together (gigabytes, and a cancel
 * that had to walk them all); the schedule holds a few counters whatever the scatter's size,
 * while the store already lists every planned job. Pure: runScatter carries it out.
 */
export interface ElementSchedule {
  readonly count: number;
  readonly width: number;
  /** Elements [0, next) have started. */
  readonly next: number;
  readonly inFlight: number;
  /** The first failure by element order, if any. */
  readonly failure?: { readonly element: number; readonly error: unknown };
}

export function planElements(count: number, width: number): ElementSchedule {
  if (!(Number.isInteger(width) && width >= 1)) throw new RangeError(`element window must be an integer >= 1, got ${width}`);
  return { count, width, next: 0, inFlight: 0 };
}

/** Elements [from, to) to start now: none while stopping. */
export function elementsToStart(schedule: ElementSchedule, stopping: boolean): { readonly from: number; readonly to: number } {
  const room = stopping ? 0 : Math.min(schedule.width - schedule.inFlight, schedule.count - schedule.next);
  return { from: schedule.next, to: schedule.next + Math.max(room, 0) };
}

export function elementsStarted(schedule: ElementSchedule, to: number): ElementSchedule {
  return { ...schedule, next: to, inFlight: schedule.inFlight + (to - schedule.next) };
}

export function elementEnded(schedule: ElementSchedule, element: number, error?: { readonly error: unknown }): ElementSchedule {
  const earlier = schedule.failure !== undefined && schedule.failure.element < element;
  const failure = error === undefined || earlier ? schedule.failure : { element, error: error.error };
  return { ...schedule, inFlight: schedule.inFlight - 1, ...(failure === undefined ? {} : { failure }) };
}

/** Nothing is in flight and nothing more will start: elements [next, count) never run. */
export function elementsSettled(schedule: ElementSchedule, stopping: boolean): boolean {
  return schedule.inFlight === 0 && (stopping || schedule.next === schedule.count);
}
