/**
 * Carries out a scatter's ElementSchedule: starts what it says, feeds back each element's end.
 * What an element gives is the caller's to keep (or to leave in the store). Once `signal`
 * aborts nothing new starts, and the result says where the run stopped, so the caller can mark
 * the rest as never run.
 */
import { elementEnded, elementsSettled, elementsStarted, elementsToStart, planElements } from './element-schedule.js';
import { Settlements } from './settlements.js';

/**
 * Elements of one scatter in flight at once, for an executor that runs `capacity` jobs at once:
 * enough to keep its slots busy with the next jobs prepared, few enough that memory does not
 * grow with the scatter. And no more than that: a prepared job's objects live until it has run,
 * and the longer they live the more of them V8 moves to its old generation, where they stay as
 * garbage until a full collection (measured, 2 slots: 256 elements in flight promoted ~3× the
 * bytes per scavenge of 16, and the server's peak RSS was ~20–40 MiB higher).
 */
export function elementWindow(capacity: number): number {
  return Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, PREPARED_PER_SLOT * capacity));
}

const PREPARED_PER_SLOT = 4;
const MIN_WINDOW = 16;
/** A cluster's thousand slots still get a window this wide (Slurm job arrays are cut from it). */
const MAX_WINDOW = 256;

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
