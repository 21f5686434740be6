import { buryUntried, type DeliveryContext, type DeliveryRun } from './delivery.js';
import type { DispatcherContext } from './dispatcher-context.js';
import { leaseUnits, putBack, type LeaseContext } from './lease-units.js';
import { recall } from './recall.js';

/** The longest wait between sweeps while burials keep failing. */
const MAX_BACKOFF_MS = 60_000;

/**
 * Moves to dead, as `expired`, the tasks whose `expiresAt` has passed wherever they stand: behind their group's
 * failing head or its request in flight, or offline, where no request comes to take them. Burying makes no request,
 * so it needs neither a free slot nor the network, only the delivery (one handle buries, as one delivers). A burial
 * the store refuses gives its tasks back, and the next sweep waits a backoff (1 s doubling to a minute): a dead-letter
 * queue that keeps failing is not asked again at once, for thousands of tasks, in a loop.
 */
export class ExpirySweep {
  readonly #c: DeliveryContext & LeaseContext & Pick<DispatcherContext, 'running'>;
  #failures = 0;
  #notBefore = -Infinity;

  constructor(context: DeliveryContext & LeaseContext & Pick<DispatcherContext, 'running'>) {
    this.#c = context;
  }

  /** When the next sweep may bury something (a time past: now), or undefined while nothing expires. */
  next(): number | undefined {
    const at = this.#c.index.nextExpiry();
    return at === undefined ? undefined : Math.max(at, this.#notBefore);
  }

  /** Buries what is due, if anything; resolves how many it buried (none when the burial failed). */
  async run(run: DeliveryRun): Promise<number> {
    const c = this.#c;
    const { index, coordination, options } = c;
    const now = options.clock.now();
    if ((this.next() ?? Infinity) > now) return 0;
    if (!coordination.holdsOrAlone() && !(await coordination.mayDeliver(c.running()))) return 0;
    let doomed = index.expired(now);
    // Taken ahead behind their group's head in flight (which may take up to `timeoutMs`): taken back, then buried.
    const ahead = doomed.filter((p) => p.ahead);
    if (ahead.length > 0) {
      await recall(ahead, (entries, lease) => putBack(c, entries, lease));
      // Given back, they are ready: taken again here (those whose release failed wait for their lease to end).
      const back = new Set(ahead);
      doomed = [...doomed.filter((p) => !back.has(p)), ...index.expired(now)];
    }
    if (doomed.length === 0) return 0;
    const [taken] = await leaseUnits(c, doomed, run, true);
    if (!taken || taken.unit.length === 0) return 0;
    await buryUntried(c, taken.unit.map((entry) => ({ entry, reason: 'expired' as const })), taken.lease, run);
    const buried = taken.unit.filter((entry) => !index.get(Number(entry.id))).length;
    this.#failures = buried < taken.unit.length ? this.#failures + 1 : 0;
    this.#notBefore = this.#failures === 0 ? -Infinity : options.clock.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.#failures - 1));
    return buried;
  }
}
