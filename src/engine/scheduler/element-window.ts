/**
 * Runs a scatter's elements a window at a time, in element order: at most `width` in flight,
 * the next one starting as one settles. Starting all of a 100,000-element scatter at once made
 * 100,000 promise chains, job specs and queue entries live together (gigabytes, and a cancel
 * that had to walk them all); a window keeps what is in memory proportional to what can run,
 * while the store already lists every planned job. What an element gives is the caller's to
 * keep (or to leave in the store). Once `signal` aborts nothing new starts, and the result says
 * where the run stopped, so the caller can mark the rest as never run.
 */
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
  let next = 0;
  let failed: { element: number; error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < count && !signal.aborted) {
      const element = next++;
      try {
        await run(element);
      } catch (error) {
        if (failed === undefined || element < failed.element) failed = { element, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
  return { notStarted: next, ...(failed === undefined ? {} : { failure: { error: failed.error } }) };
}
