import type { RemoveOptions } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { HELD_ONLY, NOT_OTHERS, rewindsOf, type AckRemoval } from '../core/rewinds.js';

/**
 * How the acks of delivered tasks, which remove them by entry id, are kept off tasks another handle stored under those
 * ids after the store went back (see `PendingStore.catchUp`): per outbox queue, the rewinds the index has read the
 * queue whole since, and the entries whose task in flight here was replaced.
 */
const known = new WeakMap<object, number>();
const voided = new WeakMap<object, Set<string>>();

/** The index of `queue` has read it whole as of `rewinds` (see `rewindsOf`). */
export function readWhole(queue: object, rewinds: number): void {
  known.set(queue, rewinds);
}

/** The rewinds of `queue` as of the index's last whole read of it (see `readWhole`). */
export function readWholeAt(queue: object): number {
  return known.get(queue) ?? 0;
}

/**
 * The task in flight here under entry `id` of `queue` was lost, and the entry holds another handle's task now: the ack
 * of its response must not remove that one (see `ackable`).
 */
export function voidAck(queue: object, id: string): void {
  let ids = voided.get(queue);
  if (!ids) voided.set(queue, (ids = new Set()));
  ids.add(id);
}

/** Of the entries `ids` whose tasks were delivered, those to remove from `queue`: not one voided (once each). */
export function ackable(queue: object, ids: string[]): string[] {
  const away = voided.get(queue);
  return away?.size ? ids.filter((id) => !away.delete(id)) : ids;
}

/**
 * Leases with a task another handle took back (the first an ack left in its partition: the later ones of its commit
 * may be leases of this handle nobody took): their later acks are left too. A process stopped with acks held commits
 * them as it goes on in more than one commit (a response read on waking joins the next): else the second removed a
 * task behind the head the other sends again, whose 2xx then came after it.
 */
const leftLeases = new WeakSet<object>();

/**
 * Removes the entries `ids` of delivered tasks from `queue` (taken under `leases`): never one another handle holds
 * (taken back from this one: see `NOT_OTHERS`), nor one of a lease that had some left so; and once the store went back
 * and the index has not read the queue since (its ack's own commit may be the first to see it), only entries a lease
 * holds, never a task stored since (see `HELD_ONLY`). Resolves the ids left.
 */
export async function ack(queue: Pick<Queue<unknown>, 'remove'>, ids: string[], leases: ReadonlyMap<string, object>): Promise<ReadonlySet<string>> {
  const left = new Map<number, readonly string[]>();
  const options: RemoveOptions & AckRemoval = { leased: true, [NOT_OTHERS]: (p, held) => left.set(p, held), [HELD_ONLY]: () => rewindsOf(queue) !== readWholeAt(queue) };
  const stuck = ids.filter((id) => leftLeases.has(leases.get(id) ?? NONE));
  const acked = ackable(queue, ids);
  await queue.remove(stuck.length === 0 ? acked : acked.filter((id) => !stuck.includes(id)), options);
  const out = [...stuck, ...[...left.values()].flat()];
  for (const [first] of left.values()) {
    const lease = first === undefined ? undefined : leases.get(first);
    if (lease) leftLeases.add(lease);
  }
  return out.length === 0 ? NONE : new Set(out);
}

const NONE: ReadonlySet<string> = new Set();
