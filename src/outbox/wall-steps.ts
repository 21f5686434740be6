import { monotonic, type Clock } from '../core/clock.js';
import type { PendingIndex } from './pending.js';

/**
 * A reader of the wall clock's time that notices a step back of it (its distance to the monotonic one shrinking by
 * more than a second): that would stretch every retry wait by the step, so the waits set before it are moved back
 * with it (see `PendingIndex.stepBack`). Read before every wait is set, so that one set after a step, on the new time,
 * is never moved again. A step forward needs nothing: waits end early, which is harmless, and a machine waking from
 * sleep looks the same.
 */
export function waitsFrom(clock: Clock, index: PendingIndex): () => number {
  /** The wall clock's lead over the monotonic one, when last looked at. */
  let skew: number | undefined;
  return () => {
    const now = clock.now();
    const lead = now - monotonic(clock);
    if (skew !== undefined && lead < skew - 1000) index.stepBack(lead - skew);
    skew = lead;
    return now;
  };
}
