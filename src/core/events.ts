/** Sent after pushes of this handle are durable. */
export interface PushDetail {
  readonly count: number;
}

/**
 * Sent when opening (or reading again) found storage that needed repair, once the repair is stored:
 * - 'tail': bytes past the last complete commit of the tail segment were cut (a writer died mid-write, or damage);
 * - 'meta': the metadata failed its checksum and was rebuilt from the segments;
 * - 'meta-missing': the metadata was gone while segments remained (deleted under the queue) and was rebuilt;
 * - 'meta-damaged': records of the metadata after a damaged one were dropped, so changes they held may be undone;
 * - 'rollback': the ids `[from, to)` were given out but their items are gone (cut off, or in storage removed under
 *   the queue): they are made void, so they are never handed out and never given to a new item, and what the
 *   metadata said of them (acks, leases, attempts) is forgotten;
 * - 'floor': the segments ended before the queue's next id (the empty segment a drained queue keeps at it removed
 *   under the queue, or a repair's cut), so an empty one was written there (`segment`): metadata lost later would
 *   otherwise be rebuilt to give those ids out again.
 */
export interface RecoverDetail {
  readonly queue: string;
  readonly kind: 'tail' | 'meta' | 'meta-missing' | 'meta-damaged' | 'rollback' | 'floor';
  readonly segment?: number;
  /** Where the cut was made, in bytes. */
  readonly offset?: number;
  /** How many bytes were cut. */
  readonly bytes?: number;
  /** True when valid data followed the damage, so it was corruption rather than a torn write. */
  readonly corrupt?: boolean;
  /** Ids `[first, end)` among which items already acked may be delivered again (at-least-once, never lost). */
  readonly again?: readonly [first: string, end: string];
  /** For 'rollback': the void ids, `[from, to)`. */
  readonly from?: string;
  readonly to?: string;
}

/**
 * Sent when unacked items cannot be read: a segment fails its checksum where a torn write cannot explain it
 * ('checksum'), or the storage that held them is gone ('missing': a segment file deleted or cut under the queue, or
 * the queue's storage deleted whole under a live handle, see `StorageSnapshot.remade`).
 */
export interface CorruptDetail {
  readonly queue: string;
  readonly segment: number;
  /** Byte offset of the first bad frame. */
  readonly offset: number;
  /**
   * Ids of unacked items that cannot be read. For a queue deleted under a live handle, those it knew unacked as of its
   * last read (some may have been acked by another handle since; some ids may name items pushed since, not lost). For
   * the newest segment removed or cut under the queue (reason 'missing'), the ids it held as far as the queue recorded
   * them (a close, a take or an ack records it), then at most one per 8 bytes lost past that: pushes made since by a
   * writer that died are counted from their bytes, and some of those ids may never have been given out.
   */
  readonly lost: readonly string[];
  /** 'throw': reads reject with 'ERR_CORRUPT'. 'skip': the lost items were counted as acked. */
  readonly action: 'throw' | 'skip';
  readonly reason: 'checksum' | 'missing';
}

export interface QueueEventMap {
  push: CustomEvent<PushDetail>;
  /** Another handle on the same queue committed (pushed, took, acked), or may have (a store that began to listen). */
  change: Event;
  recover: CustomEvent<RecoverDetail>;
  corrupt: CustomEvent<CorruptDetail>;
}
