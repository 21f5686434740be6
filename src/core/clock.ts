/** Time as the queue sees it. Inject a fake one to run lease and retry tests without waiting. */
export interface Clock {
  /** Wall-clock time, epoch ms: what deadlines that outlive a process (leases, retry times, `notBefore`) are in. */
  now(): number;
  /**
   * Optional: a reading that only moves forward at the rate of real time, whatever the wall clock does (NTP, a
   * laptop waking, a user changing the time), like `performance.now()`. Durations measured inside one process
   * (a request's timeout, a timer's remaining time) use it. Without it, `now()` is used.
   */
  monotonic?(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock, read when called so that fake timers installed later are honoured. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => globalThis.performance?.now() ?? Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** `clock`'s monotonic reading, or its wall clock when it has none. */
export function monotonic(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

/**
 * The longest a timer waiting for a wall-clock moment (a hold's end, a retry time, `notBefore`) sleeps before its
 * owner looks again (ms). Timers run on the monotonic reading, which a wall-clock step forward does not move (NTP; a
 * machine asleep, during which the monotonic clock stands still): without this bound, an hour's wait would be waited
 * out in full after the hour had passed.
 */
export const WALL_RECHECK_MS = 60_000;

/** The longest delay a timer holds (2^31 - 1 ms, about 24.8 days); a longer one fires at once in browsers and Node. */
const LONGEST = 2 ** 31 - 1;

/**
 * Calls `fn` once `ms` have passed on `clock`'s monotonic reading, however long that is: a delay past what a timer
 * holds (a Retry-After of weeks, a lease of 30 days) is waited for in steps, never cut short to a busy loop, and a
 * timer that fires early is armed again for what is left. Returns a cancel function.
 */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  const end = monotonic(clock) + Math.max(0, ms);
  let handle: unknown;
  const arm = (left: number): void => {
    handle = clock.setTimeout(() => {
      const rest = end - monotonic(clock);
      if (rest > 0) arm(rest);
      else fn();
    }, Math.min(Math.max(0, left), LONGEST));
  };
  arm(ms);
  return () => clock.clearTimeout(handle);
}
