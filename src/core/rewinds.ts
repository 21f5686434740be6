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
