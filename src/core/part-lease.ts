import type { Lease } from './queue-types.js';

/**
 * A partition's lease checks with these, changing nothing, that its `ack(ids)` would not be refused now (`CHECK_ACK`),
 * or that its partition can be read (`CHECK`, see `Partition.ready`): an ack or a release spanning partitions checks
 * every part before it changes any (see `combine`).
 */
export const CHECK_ACK = Symbol();
export const CHECK = Symbol();

/**
 * A partition's lease gives all its items back with this, as untried, from inside the queue's serial (where `run` would
 * wait for itself): a take spanning partitions that fails part way so changes nothing (see `takeInTurn`), and a take
 * whose commit failed gives back what the store may have stored all the same (see `Partition.take`).
 */
export const UNTAKE = Symbol();

/**
 * True while the lease's items may be in other hands already, though it has not expired (see
 * `QueueStorage.leasesInDoubt`): a request started for them now may be one another handle sent. Synchronous.
 */
export const IN_DOUBT = Symbol();

/** A lease as one partition hands it out. */
export type PartLease<T> = Lease<T> & {
  readonly [CHECK_ACK]: (ids?: readonly string[]) => Promise<void>;
  readonly [CHECK]: () => Promise<void>;
  readonly [UNTAKE]: () => Promise<void>;
  readonly [IN_DOUBT]: () => boolean;
};

/** Whether `lease` (a queue's, of one partition or several) may have lost its items to other handles (`IN_DOUBT`). */
export function inDoubt(lease: Lease<unknown>): boolean {
  return (lease as Partial<PartLease<unknown>>)[IN_DOUBT]?.() ?? false;
}
