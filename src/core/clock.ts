/** Time as the queue sees it. Inject a fake one to run lease and retry tests without waiting. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock, read when called so that fake timers installed later are honoured. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The longest delay a timer holds (2^31 - 1 ms, about 24.8 days); a longer one fires at once in browsers and Node. */
const LONGEST = 2 ** 31 - 1;

/**
 * Calls `fn` once `ms` have passed on `clock`, however long that is: a delay past what a timer holds (a Retry-After
 * of weeks, a lease of 30 days) is waited for in steps, never cut short to a busy loop. Returns a cancel function.
 */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown;
  const arm = (left: number): void => {
    handle = clock.setTimeout(() => (left > LONGEST ? arm(left - LONGEST) : fn()), Math.min(Math.max(0, left), LONGEST));
  };
  arm(ms);
  return () => clock.clearTimeout(handle);
}
