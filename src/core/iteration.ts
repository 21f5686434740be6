import { WALL_RECHECK_MS, type Clock } from './clock.js';
import type { Lease, TakeOptions } from './queue-types.js';
import { waitFor, type Waiting } from './wait.js';

/** What iterating needs of the queue. */
export interface IterationContext<T> {
  readonly clock: Clock;
  readonly take: (max: number, options: TakeOptions<T>) => Promise<Lease<T> | undefined>;
  readonly closed: () => boolean;
  /** Throws 'ERR_CLOSED' once the queue is closed, as every call on it does. */
  readonly checkOpen: () => void;
  /** Functions called when something may have become available (a push, another handle's commit). */
  readonly waiters: Set<() => void>;
  /** When to look again: the earliest hold's end, or sooner while a handle that may be gone holds some (Infinity: never). */
  readonly nextEnd: (now: number) => number;
  /** How long to wait at most before looking again (Infinity when the store tells of other handles' commits). */
  readonly pollMs: number;
  /** From now on, have the store tell of other handles' commits (idempotent). */
  readonly watch: () => void;
}

/**
 * Leases as they become available, until the queue closes or `signal` aborts: a take, and when it finds nothing, a
 * wait for a push, another handle's commit, a hold ending or a poll (whichever comes first). The wait listens from
 * before the take, so a push landing during the take is not missed; its timer is armed after it, from what the take
 * read: a take that finds another handle's lease (taken since this handle last looked, or in a partition it had not
 * read) must wake when that lease runs out, which nothing else would tell.
 */
export async function* leases<T>(c: IterationContext<T>, max: number, leaseMs: number | undefined, signal: AbortSignal | undefined, end: Ending): AsyncGenerator<Lease<T>, void, undefined> {
  // A loop begun on a closed queue is a slip, refused as any call on it is. One that the close meets ends quietly, as
  // README says ("until closed").
  c.checkOpen();
  while (!end.ended && !c.closed() && !signal?.aborted) {
    const waiting = (end.waiting = waitFor({ clock: c.clock, signal, waiters: c.waiters }));
    if (c.closed()) waiting.cancel();
    let lease: Lease<T> | undefined;
    try {
      lease = await c.take(max, leaseMs === undefined ? { signal } : { leaseMs, signal });
    } catch (error) {
      waiting.cancel();
      if (c.closed() || signal?.aborted) return;
      throw error;
    }
    if (lease && end.ended) {
      // Ended while it took them: no one is left to handle them, and another consumer may. A queue closing meanwhile
      // releases them itself, and this iteration ends quietly, as any does at a close.
      await lease.release(undefined, { untried: true }).catch((error: unknown) => {
        if (!c.closed()) throw error;
      });
    } else if (lease) {
      waiting.cancel();
      yield lease;
    } else {
      // Told of other handles' commits only once it waits: a consumer that always finds items never subscribes. A
      // commit between the take and the start of watching still wakes this wait: the store tells each new watcher.
      c.watch();
      const now = c.clock.now();
      const ends = c.nextEnd(now) - now;
      // A hold's end is a wall time, looked at again at least once a minute; with none held, a push or a commit wakes it.
      const holdEnds = ends < Infinity ? Math.max(0, Math.min(ends, WALL_RECHECK_MS)) : Infinity;
      waiting.until(Math.min(c.pollMs, holdEnds));
      await waiting.promise;
    }
  }
}

/** Whether an iteration was ended from outside, and the wait it is in (see `endable`). */
export interface Ending {
  ended: boolean;
  waiting?: Waiting;
}

/**
 * The iterator of `start()`'s generator (started at the first `next()`), whose `return()` and `throw()` end a wait in
 * progress at once. A generator's own are queued behind a pending `next()`: one waiting for items would wait on, and
 * the next push would be leased to an iteration already over, held from every other consumer until its lease ended.
 */
export function endable<T>(start: (end: Ending) => AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  const end: Ending = { ended: false };
  const inner = (async function* () {
    yield* start(end);
  })();
  const stop = () => {
    end.ended = true;
    end.waiting?.cancel();
  };
  const iterator: AsyncGenerator<T, void, undefined> = {
    next: () => inner.next(),
    return: (value) => (stop(), inner.return(value)),
    throw: (error) => (stop(), inner.throw(error)),
    [Symbol.asyncIterator]: () => iterator,
    [Symbol.asyncDispose]: async () => void (await iterator.return()),
  };
  return iterator;
}
