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

/** A lease as one partition hands it out. */
export type PartLease<T> = Lease<T> & {
  readonly [CHECK_ACK]: (ids?: readonly string[]) => Promise<void>;
  readonly [CHECK]: () => Promise<void>;
  readonly [UNTAKE]: () => Promise<void>;
};
