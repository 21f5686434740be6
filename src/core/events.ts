/** Sent after pushes of this handle are durable. */
export interface PushDetail {
  readonly count: number;
}

/** Sent when a torn or damaged tail was cut off (after a crash mid-write), or unreadable metadata was rebuilt. */
export interface RecoverDetail {
  readonly queue: string;
  /** 'tail': bytes past the last complete commit were cut. 'meta': metadata failed its checksum and was rebuilt. */
  readonly kind: 'tail' | 'meta';
  readonly segment?: number;
  /** Where the cut was made, in bytes. */
  readonly offset?: number;
  /** How many bytes were cut. */
  readonly bytes?: number;
  /** True when valid data followed the damage, so it was corruption rather than a torn write. */
  readonly corrupt?: boolean;
}

/** Sent when a segment fails its checksum where a torn write cannot explain it. */
export interface CorruptDetail {
  readonly queue: string;
  readonly segment: number;
  /** Byte offset of the first bad frame. */
  readonly offset: number;
  /** Ids of unacked items that cannot be read. */
  readonly lost: readonly string[];
  /** 'throw': reads reject with 'ERR_CORRUPT'. 'skip': the lost items were counted as acked. */
  readonly action: 'throw' | 'skip';
}

export interface QueueEventMap {
  push: CustomEvent<PushDetail>;
  /** Another handle on the same queue committed (pushed, took, acked). */
  change: Event;
  recover: CustomEvent<RecoverDetail>;
  corrupt: CustomEvent<CorruptDetail>;
}
