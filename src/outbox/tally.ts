import type { DeliveryRun } from './delivery.js';

/** A run's counts start at 0; `flushes`, those running, count what it does too (see `tally`). */
export const newRun = (once: boolean, flushes?: ReadonlySet<DeliveryRun>): DeliveryRun => ({ sent: 0, retried: 0, dead: 0, handedOver: 0, parked: once ? new Set() : undefined, over: false, flushes });

/** How a task left a delivery run, as a flush counts it. */
export type Counted = 'sent' | 'retried' | 'dead' | 'handedOver';

/**
 * Counts `n` tasks that went `how` in `run`, and in every other flush running then. A flush resolves only once every
 * request out has settled, whichever run started it (another flush, an aborted one, the background loop), so what it
 * says is what delivery did while it waited: counted only in the run that took them, tasks delivered while a flush
 * waited were missing from its result, which could say none sent while 'sent' events came.
 */
export function tally(run: DeliveryRun, how: Counted, n: number): void {
  run[how] += n;
  for (const flush of run.flushes ?? []) if (flush !== run) flush[how] += n;
}
