/**
 * Failed-authentication limiting per client address. After `limit` failures from one address
 * within `windowSeconds`, further requests from it that do not carry a valid key are answered
 * 429 with Retry-After until the window ends. A valid key is always accepted: behind a NAT or
 * a reverse proxy many users share one address, and one of them guessing keys must not lock
 * the others out (a 256-bit key is not guessed anyway; the limit cuts the noise and load).
 * Kept in memory per server process; the number of addresses tracked is bounded.
 */

export interface AuthFailureLimits {
  /** Failures per address and window before 429s. */
  readonly limit: number;
  readonly windowSeconds: number;
}

/** More addresses than this: the oldest windows are forgotten first. */
const MAX_TRACKED_ADDRESSES = 10_000;

export class AuthFailureLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  /** Address → its current window (start time, failures); Map order = oldest window first. */
  readonly #windows = new Map<string, { readonly start: number; failures: number }>();

  constructor(limits: AuthFailureLimits) {
    this.#limit = limits.limit;
    this.#windowMs = limits.windowSeconds * 1000;
  }

  /** Seconds until `address` may fail again, or undefined when it is not over the limit. */
  retryAfter(address: string, now = Date.now()): number | undefined {
    const window = this.#current(address, now);
    if (window === undefined || window.failures < this.#limit) return undefined;
    return Math.max(1, Math.ceil((window.start + this.#windowMs - now) / 1000));
  }

  recordFailure(address: string, now = Date.now()): void {
    const window = this.#current(address, now);
    if (window !== undefined) {
      window.failures++;
      return;
    }
    if (this.#windows.size >= MAX_TRACKED_ADDRESSES) {
      const oldest = this.#windows.keys().next();
      if (!oldest.done) this.#windows.delete(oldest.value);
    }
    this.#windows.set(address, { start: now, failures: 1 });
  }

  #current(address: string, now: number): { start: number; failures: number } | undefined {
    const window = this.#windows.get(address);
    if (window !== undefined && now - window.start >= this.#windowMs) {
      this.#windows.delete(address);
      return undefined;
    }
    return window;
  }
}
