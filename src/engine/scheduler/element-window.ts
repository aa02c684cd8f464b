/**
 * Carries out a scatter's ElementSchedule: starts what it says, feeds back each element's end.
 * What an element gives is the caller's to keep (or to leave in the store). Once `signal`
 * aborts nothing new starts, and the result says where the run stopped, so the caller can mark
 * the rest as never run.
 */
import { elementEnded, elementsSettled, elementsStarted, elementsToStart, planElements } from './element-schedule.js';
import { Settlements } from './settlements.js';

export interface WindowResult {
  /** The first failure by element order, if any. */
  readonly failure?: { readonly error: unknown };
  /** Elements [notStarted, count) never started. */
  readonly notStarted: number;
}

export async function runWindowed(
  count: number,
  width: number,
  signal: AbortSignal,
  run: (element: number) => Promise<void>,
): Promise<WindowResult> {
  let schedule = planElements(count, width);
  const inFlight = new Settlements<number, void>();
  for (;;) {
    const { from, to } = elementsToStart(schedule, signal.aborted);
    for (let element = from; element < to; element++) inFlight.add(element, run(element));
    schedule = elementsStarted(schedule, to);
    if (elementsSettled(schedule, signal.aborted)) break;
    const ended = await inFlight.next();
    schedule = elementEnded(schedule, ended.key, ended.ok ? undefined : { error: ended.error });
  }
  const failure = schedule.failure;
  return { notStarted: schedule.next, ...(failure === undefined ? {} : { failure: { error: failure.error } }) };
}
