import { buryUntried, type DeliveryContext, type DeliveryRun } from './delivery.js';
import type { DispatcherContext } from './dispatcher.js';
import { leaseUnits, type LeaseContext } from './lease-units.js';

/**
 * Moves to dead, as `expired`, the tasks whose `expiresAt` has passed wherever they stand: behind their group's
 * failing head, or offline, where no request comes to take them. Burying makes no request, so it needs neither a
 * free slot nor the network, only the delivery (one handle buries, as one delivers). Called once
 * `PendingIndex.nextExpiry()` has come; resolves how many it buried.
 */
export async function buryExpired(c: DeliveryContext & LeaseContext & Pick<DispatcherContext, 'running'>, run: DeliveryRun): Promise<number> {
  const { index, coordination, options } = c;
  if (!coordination.holdsOrAlone() && !(await coordination.mayDeliver(c.running()))) return 0;
  const doomed = index.expired(options.clock.now());
  if (doomed.length === 0) return 0;
  const [taken] = await leaseUnits(c, doomed, run, true);
  if (!taken || taken.unit.length === 0) return 0;
  await buryUntried(c, taken.unit.map((entry) => ({ entry, reason: 'expired' as const })), taken.lease, run);
  return taken.unit.length;
}
