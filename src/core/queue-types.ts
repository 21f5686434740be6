/** One item handed out by `take`. */
export interface LeaseEntry<T> {
  /** Stable for the item's life in the queue; pass it to `ack` or `release`. */
  readonly id: string;
  readonly value: T;
  /** How many times the item has been handed out, this time included. */
  readonly attempts: number;
}

/** Options of `Queue.push` and `Queue.pushMany`. */
export interface PushOptions {
  /**
   * Items of one key go to one partition, in the order pushed (with `partitions` > 1; without a key, items go to the
   * partitions in turn). With one partition, order holds for every item anyway.
   * @default undefined
   */
  readonly key?: string | undefined;
}

/** Options of `Lease.release`. */
export interface ReleaseOptions {
  /**
   * Keep the released items unavailable for this long (a durable retry delay); they keep their place in line. From 0
   * to a hundred years (Infinity is refused).
   * @default 0
   */
  readonly delayMs?: number | undefined;
  /**
   * The items were not tried while held (taken ahead, or behind one that failed): their attempt counts go back to
   * what they were before this take, so `attempts` counts only tries made.
   * @default false
   */
  readonly untried?: boolean | undefined;
}

/** Options of `Queue.remove`. */
export interface RemoveOptions {
  /**
   * Remove leased items too. `false` leaves the items a handle holds (another handle may have them in flight): only
   * items that are ready or delayed go.
   * @default true
   */
  readonly leased?: boolean | undefined;
}

/** Items taken from a queue, held for this handle until acked, released or expired. */
export interface Lease<T> {
  readonly entries: readonly LeaseEntry<T>[];
  /** Epoch ms after which the items become available to others again (later after `extend`). */
  readonly expiresAt: number;
  /**
   * Removes the items for good (all of the lease's but those it released, or those of `ids`). Rejects
   * 'ERR_LEASE_EXPIRED', removing none, when the lease expired and another lease holds any of them now. An item
   * acked already is passed over, so an ack whose outcome is unknown (an error, a crash) may simply be made again;
   * an id that is not the lease's is 'ERR_INVALID_OPTION'.
   */
  ack(ids?: readonly string[]): Promise<void>;
  /** Puts the items back at the head of the queue in their order (all, or those of `ids`); `ack()` no longer names them. */
  release(ids?: readonly string[], options?: ReleaseOptions): Promise<void>;
  /**
   * Keeps the lease's items (those neither acked nor released) from others for `leaseMs` from now, for work that takes
   * longer than the lease was taken for; `expiresAt` moves with it. Counts no attempt. Rejects 'ERR_LEASE_EXPIRED',
   * extending none, when the lease expired and another lease holds any of them now (as `ack` does); items that expired
   * and were not taken since are held again. `leaseMs`: from 1 ms to a hundred years.
   * @param leaseMs default: the `leaseMs` the lease was taken with
   */
  extend(leaseMs?: number): Promise<void>;
}

/** Where an entry stands, as `Queue.list` reports it. */
export interface QueueEntry<T> {
  readonly id: string;
  readonly value: T;
  readonly attempts: number;
  /** 'ready': can be taken. 'leased': handed out. 'delayed': released with a delay. */
  readonly state: 'ready' | 'leased' | 'delayed';
  /** Epoch ms from which a leased or delayed entry is available again; for a ready one, 0. */
  readonly availableAt: number;
}

/** Options of `Queue.take`. */
export interface TakeOptions<T> {
  /**
   * How long the items stay leased: from 1 ms to a hundred years (as the queue's `leaseMs`).
   * @default the queue's `leaseMs`
   */
  readonly leaseMs?: number | undefined;
  /**
   * Rejects with the signal's reason when aborted before the take commits (on a queue of several partitions, before
   * the first partition's part of it commits). Aborted later, the take resolves the lease it committed: ack or
   * release it.
   * @default undefined: the take runs to its end
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Called for every unacked entry in queue order (leased and delayed ones too, so ordering rules can see what is
   * in flight); return true to take a ready one, or 'stop' to end the walk there (what was picked so far is taken).
   * An entry's `value` is decoded only when read.
   * @default undefined: the oldest ready entries are taken
   */
  readonly filter?: ((entry: QueueEntry<T>) => boolean | 'stop') | undefined;
  /**
   * Take these entries only (those of them that are available), found by id without walking the queue: how a
   * scheduler that keeps its own index of the entries takes the ones it chose. Not with `filter`.
   * @default undefined: entries are found by walking the queue
   */
  readonly ids?: readonly string[] | undefined;
  /**
   * With `ids`: take entries released with a delay before the delay ends (a retry brought forward, say because
   * the network is back): all of `ids` (true), or those for which this returns true, given each delayed entry's id
   * and the time its delay ends (so that a delay set elsewhere, later than the one the caller knows of, is kept to).
   * Entries leased to others are never taken.
   * @default false
   */
  readonly early?: (boolean | ((entry: { readonly id: string; readonly availableAt: number }) => boolean)) | undefined;
}

/** Options of `Queue.list`. */
export interface ListOptions {
  /**
   * At most this many entries.
   * @default Infinity
   */
  readonly limit?: number | undefined;
  /**
   * Only entries after this id (the last id of a previous page, say). Not with `ids`, which name the entries.
   * @default undefined: from the oldest entry
   */
  readonly after?: string | undefined;
  /**
   * Only these entries (those of them still unacked), in queue order.
   * @default undefined: every entry
   */
  readonly ids?: readonly string[] | undefined;
  /**
   * Only entries of this partition (0 to `partitions - 1`): with `after`, what it gained since.
   * @default undefined: all partitions
   */
  readonly partition?: number | undefined;
}

/** What `Queue.stats` reports. */
export interface QueueStats {
  /** Items pushed and not yet acked, leased and delayed ones included. */
  readonly size: number;
  /** Items leased now (by any handle). */
  readonly leased: number;
  /** Items released with a delay that has not passed. */
  readonly delayed: number;
  readonly segments: number;
  /** Bytes the queue's segments take in the store. */
  readonly bytes: number;
}

/** Options of `Queue.iterate`. */
export interface IterateOptions {
  /**
   * Most items in each lease.
   * @default 100
   */
  readonly max?: number | undefined;
  /**
   * How long each lease's items stay leased: from 1 ms to a hundred years (as the queue's `leaseMs`).
   * @default the queue's `leaseMs`
   */
  readonly leaseMs?: number | undefined;
  /**
   * Ends the iteration when aborted.
   * @default undefined: it ends when the queue closes
   */
  readonly signal?: AbortSignal | undefined;
}
