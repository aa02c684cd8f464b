/**
 * Work in flight, handed back one settled piece at a time in the order it settles: how the
 * schedulers' drivers wait for "whichever ends next" without a Promise.race over everything
 * running (which re-subscribes to every pending promise on each call).
 */
export type Settled<K, V> =
  | { readonly key: K; readonly ok: true; readonly value: V }
  | { readonly key: K; readonly ok: false; readonly error: unknown };

export class Settlements<K, V> {
  readonly #settled: Settled<K, V>[] = [];
  #wake: (() => void) | undefined;
  #pending = 0;

  add(key: K, work: Promise<V>): void {
    this.#pending++;
    work.then(
      (value) => this.#push({ key, ok: true, value }),
      (error: unknown) => this.#push({ key, ok: false, error }),
    );
  }

  /** The next piece to settle; there must be one pending or settled and not yet taken. */
  async next(): Promise<Settled<K, V>> {
    if (this.#pending === 0 && this.#settled.length === 0) throw new Error('Settlements.next: nothing in flight');
    while (this.#settled.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    const settled = this.#settled.shift();
    if (settled === undefined) throw new Error('Settlements.next: woken with nothing settled');
    return settled;
  }

  #push(settled: Settled<K, V>): void {
    this.#pending--;
    this.#settled.push(settled);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
