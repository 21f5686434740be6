import { after, type Clock } from './clock.js';

export interface Waiting {
  readonly promise: Promise<void>;
  /**
   * Ends the wait `ms` from now at most (Infinity: only a waiter or `signal` ends it). Called once the caller knows
   * how long it may sleep, which can be after the wait started listening.
   */
  readonly until: (ms: number) => void;
  /** Ends the wait now (idempotent). */
  readonly cancel: () => void;
}

/**
 * A wait that ends when any function in `waiters` is called (the owner wakes every waiter by calling the functions
 * in the set), when `signal` aborts, or once `until` is given a time, after it (on `clock`).
 *
 * From `until` on, a timer is held even for an endless wait (re-armed every 2^31 - 1 ms, see `after`): what wakes a
 * wait otherwise (a store's change notices) keeps no Node process alive, and a process whose only work is waiting for
 * items would exit. Only a wait holds it, so a take, a push or a closed queue keep nothing alive.
 */
export function waitFor(options: { clock: Clock; signal: AbortSignal | undefined; waiters: Set<() => void> }): Waiting {
  const { clock, signal, waiters } = options;
  let done!: () => void;
  let ended = false;
  const promise = new Promise<void>((resolve) => (done = resolve));
  let stop: (() => void) | undefined;
  const cancel = () => {
    ended = true;
    waiters.delete(cancel);
    stop?.();
    signal?.removeEventListener('abort', cancel);
    done();
  };
  const until = (ms: number) => {
    if (ended) return;
    stop?.();
    stop = after(clock, ms, cancel);
  };
  signal?.addEventListener('abort', cancel);
  waiters.add(cancel);
  if (signal?.aborted) cancel();
  return { promise, until, cancel };
}
