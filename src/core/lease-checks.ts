import { SluiceError } from './errors.js';
import type { LeaseEntry } from './queue-types.js';
import type { QueueState } from './queue-state.js';

/**
 * The items of `seqs` that lease `lease` may still act on (ack or extend), those acked already left out; throws
 * 'ERR_LEASE_EXPIRED', naming what the lease would have `done` (nothing), when another lease holds one of them now (it
 * expired and was taken again), or when an item is no longer the one the lease took. Items released or expired but not
 * taken since are the lease's still.
 *
 * An item out of the lease's hold that counts fewer attempts than the lease gave it is another item under the same
 * id: the storage went back to an earlier state (a Redis restarted from an older snapshot, a failover to a replica
 * behind, a restored backup), where that id was free, and a push since took it. Acking it would remove an item nobody
 * was given. Attempts tell only so much (the other item may have been taken as often): once a load found the storage
 * gone back since the lease was taken (`rewound`), an item out of its hold is taken for another.
 */
export function stillLeased(state: QueueState, lease: string, seqs: readonly number[], entries: readonly LeaseEntry<unknown>[], rewound: boolean, now: number, done: string): number[] {
  const own = state.holds.lease(lease);
  let given: Map<number, number> | undefined;
  const live: number[] = [];
  const taken: number[] = [];
  const other: number[] = [];
  for (const seq of seqs) {
    if (state.isAcked(seq)) continue;
    live.push(seq);
    const held = state.holds.at(seq, now);
    if (held !== undefined && held.lease !== '' && held.lease !== lease) taken.push(seq);
    else if (held?.lease !== lease && (own === undefined || state.holds.at(seq, -Infinity) !== own)) {
      given ??= new Map(entries.map((e) => [Number(e.id), e.attempts]));
      if (rewound || state.attemptsOf(seq) < (given.get(seq) ?? 0)) other.push(seq);
    }
  }
  if (taken.length > 0) {
    throw new SluiceError('ERR_LEASE_EXPIRED', `The lease on ${taken.length} of these items expired and another lease holds them now; nothing was ${done}.`);
  }
  if (other.length > 0) {
    throw new SluiceError(
      'ERR_LEASE_EXPIRED',
      `The queue's storage went back to an earlier state since this lease was taken: the ids of ${other.length} of these items may name other items now, pushed since; nothing was ${done}.`,
    );
  }
  return live;
}
