import { after, type Clock } from './clock.js';

export interface Waiting {
  readonly promise: Promise<void>;
  /** Ends the wait now (idempotent). */
  readonly cancel: () => void;
}

/**
 * A wait that ends after `ms` (on `clock`), when `signal` aborts, or when any function in `waiters` is called:
 * the owner wakes every waiter by calling the functions in the set.
 */
export function waitFor(options: { clock: Clock; ms: number; signal: AbortSignal | undefined; waiters: Set<() => void> }): Waiting {
  const { clock, ms, signal, waiters } = options;
  let done!: () => void;
  const promise = new Promise<void>((resolve) => (done = resolve));
  const stop = ms === Infinity ? undefined : after(clock, ms, () => cancel());
  const cancel = () => {
    waiters.delete(cancel);
    stop?.();
    signal?.removeEventListener('abort', cancel);
    done();
  };
  signal?.addEventListener('abort', cancel);
  waiters.add(cancel);
  if (signal?.aborted) cancel();
  return { promise, cancel };
}
