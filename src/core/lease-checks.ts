import { SluiceError } from './errors.js';
import type { QueueState } from './queue-state.js';

/** The items a lease names, sorted by whether it may still act on them (see `sortLeased`). */
export interface Leased {
  /** Still the lease's: held by it, or out of every hold since it ran out, and taken by no other lease since. */
  readonly ours: number[];
  /** Taken by another lease after this one ran out, and given back since (ready, or delayed by that release). */
  readonly since: number[];
  /** Held by another lease now (the lease ran out and they were taken again). */
  readonly taken: number[];
  /** No longer the items the lease took (the storage went back to a state before the take). */
  readonly other: number[];
}

/**
 * Sorts the items of `seqs` that lease `lease` names, those acked already left out. Judged as of `now`, whatever this
 * handle's index still keeps of holds that ran out, so that an ack, a release or an extension does the same however
 * recently the handle looked: items released or expired but not taken since are the lease's still. An ack also removes
 * those another lease took since and gave back (the work is done); a release or an extension leaves them be.
 *
 * An item out of the lease's hold that counts fewer attempts than the lease leaves it with (`expected`: what it gave,
 * one less for an item it gave back untried) is another item under the same id: the storage went back to an earlier
 * state (a Redis restarted from an older snapshot, a failover to a replica behind, a restored backup), where that id
 * was free, and a push since took it. Acking it would remove an item nobody was given. Attempts tell only so much (the
 * other item may have been taken as often): once a load found the storage gone back since the lease was taken
 * (`rewound`), an item out of its hold is taken for another.
 */
export function sortLeased(state: QueueState, lease: string, seqs: readonly number[], expected: (seq: number) => number, rewound: boolean, now: number): Leased {
  const own = state.holds.lease(lease);
  const out: Leased = { ours: [], since: [], taken: [], other: [] };
  for (const seq of seqs) {
    if (state.isAcked(seq)) continue;
    const held = state.holds.at(seq, now);
    if (held !== undefined && held.lease !== '' && held.lease !== lease) out.taken.push(seq);
    else if (held?.lease === lease || (own !== undefined && state.holds.at(seq, -Infinity) === own)) out.ours.push(seq);
    else if (rewound || state.attemptsOf(seq) < expected(seq)) out.other.push(seq);
    // Delayed (this lease's own releases are never asked about again), or tried more often than this lease left it.
    else if (held !== undefined || state.attemptsOf(seq) > expected(seq)) out.since.push(seq);
    else out.ours.push(seq);
  }
  return out;
}

/** Whether `leased` holds items the lease may no longer act on. */
export const refused = ({ taken, other }: Leased): boolean => taken.length > 0 || other.length > 0;

/** The 'ERR_LEASE_EXPIRED' a lease's call that would have `done` something gets for `leased` (see `refused`). */
export function leaseExpired({ taken, other }: Leased, done: string): SluiceError {
  if (taken.length > 0) {
    return new SluiceError('ERR_LEASE_EXPIRED', `The lease on ${taken.length} of these items expired and another lease holds them now; nothing was ${done}.`);
  }
  return new SluiceError(
    'ERR_LEASE_EXPIRED',
    `The queue's storage went back to an earlier state since this lease was taken: the ids of ${other.length} of these items may name other items now, pushed since; nothing was ${done}.`,
  );
}

/** A filter that answered with an object: a Promise (an async filter) would be true, and lease every item. */
export function filterAnswer(answer: object): never {
  const what = typeof (answer as { then?: unknown }).then === 'function' ? 'a Promise (an async function?)' : 'an object';
  throw new SluiceError('ERR_INVALID_OPTION', `Expected take's \`filter\` to return true, false or 'stop' at once; it returned ${what}. Nothing was taken.`);
}
