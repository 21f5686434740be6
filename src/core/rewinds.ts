import { entryId } from './ids.js';
import type { CommitView } from './commit-view.js';

/** The partitions of each open queue (see `rewindsOf`), by queue. */
const partsOf = new WeakMap<object, readonly { readonly view: CommitView }[]>();

/** `queue` is made of `parts` (its own array: partitions opened later count too). */
export function holdParts(queue: object, parts: readonly { readonly view: CommitView }[]): void {
  partsOf.set(queue, parts);
}

/**
 * How often the store of `queue` has gone back to an earlier state under this handle (see `CommitView.rewinds`): ids it
 * read may since name other items, which a reader that keeps what it read by id (the outbox's index) must read again.
 */
export function rewindsOf(queue: object): number {
  let rewinds = 0;
  for (const part of partsOf.get(queue) ?? []) rewinds += part.view.rewinds;
  return rewinds;
}

/**
 * A `Queue.remove` option of sluice's own: when it says true (asked at the commit, once the view has read the store),
 * only entries a lease holds are removed. The outbox acks delivered tasks by entry id; after the store went back under
 * it, and before it read the queue again, such an id may name a task another handle stored since, which no lease of
 * this one holds (its own task under that id, if its lease went with the loss, is sent again: never lost).
 */
export const HELD_ONLY = Symbol('heldOnly');

/**
 * A `Queue.remove` option of sluice's own: an entry a lease of another handle holds stays, and every later one of the
 * removal too, and they are told (those of partition `p`, the first being the one another holds, at each plan of its
 * commit: the last told is what it committed). The outbox acks delivered tasks by entry id; one another handle took
 * back from this one (judged gone while alive: stopped, paused, cut off) is that handle's to send again: removed under
 * it, this handle took its group's next tasks (the head gone) and sent them while the other's request was out, whose
 * 2xx then landed after theirs. The later ones stay for that handle to send after it, in their group's order.
 */
export const NOT_OTHERS = Symbol('notOthers');

/** The options of sluice's own removal that acks (see `HELD_ONLY`, `NOT_OTHERS`). */
export interface AckRemoval {
  readonly [HELD_ONLY]?: () => boolean;
  readonly [NOT_OTHERS]?: (p: number, left: readonly string[]) => void;
}

/**
 * Of `seqs` (there, not acked), those a removal from partition `p` with `acks` (and `leased`, see `RemoveOptions`)
 * takes, `leaseOf` telling the lease that holds each (undefined or '': none), this handle's being those that start with
 * `own`. Asks `HELD_ONLY`, and tells `NOT_OTHERS` what it leaves.
 */
export function removable(seqs: readonly number[], leaseOf: (seq: number) => string | undefined, leased: boolean, own: string, p: number, acks?: AckRemoval): number[] {
  const held = acks?.[HELD_ONLY]?.() === true, others = acks?.[NOT_OTHERS];
  let first = Infinity;
  for (const seq of others ? seqs : []) {
    const lease = seq < first ? leaseOf(seq) : undefined;
    if (lease && !lease.startsWith(own)) first = seq;
  }
  others?.(p, first === Infinity ? [] : [first, ...seqs.filter((seq) => seq > first)].map((seq) => entryId(p, seq)));
  return seqs.filter((seq) => seq < first && (held ? !!leaseOf(seq) : leased || !leaseOf(seq)));
}
