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

/** See `HELD_ONLY`. */
export interface HeldOnly {
  readonly [HELD_ONLY]?: () => boolean;
}
