import type { Clock } from './clock.js';
/**
 * The storage contract. A store keeps opaque bytes in named places and says what is there; it knows nothing of
 * items, order, leases, acks or checksums (the Queue owns all of that, once). Implement `Store` to put a queue in
 * SQLite, Redis or anything else that can do an atomic compare-and-write.
 *
 * What one queue's storage holds:
 * - numbered segments: byte strings that only grow by appends at their current end (or are cut back by a write
 *   at an earlier offset, which the Queue uses to drop a torn tail), and are removed whole;
 * - one metadata byte string, replaced whole (atomically) or grown by appends: a take or an ack appends a small
 *   record instead of rewriting the state of every lease, so its cost does not grow with the leases outstanding.
 *
 * Every change goes through `commit`, guarded by a token: the store applies a batch only when nothing was
 * committed (by any handle, process or tab) since the snapshot that returned the token. That one rule is how
 * several handles share a queue without losing or doubling an item.
 *
 * A store's failure (any method's, but `watch`) reaches the user as a `SluiceError`: throw one with the code that fits,
 * or anything else, which the Queue makes 'ERR_STORAGE' ('ERR_QUOTA_EXCEEDED' for a full disk or quota: ENOSPC, EDQUOT,
 * QuotaExceededError), keeping it as `cause`.
 *
 * @example A store that keeps everything in a Map is about 100 lines: see `MemoryStore`.
 */
export interface Store {
  /**
   * Opens (creating when absent) the storage of the queue `name`. `name` is already validated by the Queue:
   * 1–128 chars of `[A-Za-z0-9._-]`, never `.` or `..`.
   */
  open(name: string, hints?: OpenHints): Promise<QueueStorage>;
  /**
   * Optional: true when the storage of the queue `name` was ever made (by `open`), without making it. The Queue asks
   * before it opens a storage only to look into it (the second partition of a queue whose first lost its metadata),
   * so that a queue of one partition gets no storage beside it. Without it, the Queue opens the storage to look.
   * A Queue and an Outbox also ask before they open, so that neither opens the other's queue (`x` beside `x.dead` is
   * an outbox's); without it, neither is refused.
   */
  exists?(name: string): Promise<boolean>;
  /**
   * Optional: where this store keeps its queues (a database, a directory, a key prefix), so that stores that share
   * their queues say the same and others do not. An outbox's handles take turns delivering (a Web Lock) and relay what
   * they did (a BroadcastChannel) under its name within this scope: an outbox of the same name on another store is
   * another outbox. Without it, the outbox's name alone.
   */
  readonly scope?: string | undefined;
  /**
   * Optional: the time every handle of this store's queues keeps deadlines in, where they run on several machines
   * (a Redis server's): the default `clock` of the queues and outboxes opened on it. A lease's end, a delay, a retry's
   * time is written by one machine and judged by another; on each machine's own clock, machines out of step take items
   * leased elsewhere, or keep them too long. Without it, the system clock.
   */
  readonly clock?: Clock | undefined;
}

/** What the Queue tells a store about the storage it opens; a store may ignore them. */
export interface OpenHints {
  /**
   * The storage takes items moved out of a store that may be full (an outbox's dead letters, moved out of its queue):
   * a store that refuses writes when full (Redis at `maxmemory`) lets its commits run, for the queue behind the move
   * would otherwise wait for room that only the move lets it make. Default false.
   */
  readonly writesWhenFull?: boolean;
}

/** How hard a commit must be pressed to the medium before it resolves. */
export type Durability = 'strict' | 'relaxed';

/** One queue's storage, as opened by one handle. */
export interface QueueStorage {
  /** Reads what is stored now. */
  load(): Promise<StorageSnapshot>;
  /**
   * A cheap check: the token of the latest commit. Equal to the token of the last `load` or `commit` when nothing
   * changed since.
   */
  token(): Promise<string>;
  /** Bytes `[start, end)` of a segment; fewer when the segment is shorter; empty when it does not exist. */
  read(segment: number, start: number, end: number): Promise<Uint8Array>;
  /**
   * Applies `batch` atomically when the stored token still equals `token`, and resolves with the new token; when
   * the token differs, writes nothing and resolves `undefined` (the caller reloads and tries again).
   *
   * Stores that cannot make the whole batch atomic must apply it in this order, which keeps every crash point
   * recoverable: `write` (then, when strict, sync it), then `meta` or `metaAppend`, then `remove` and `quarantine`.
   * Rejects (leaving the stored token unchanged where the store can promise it) when the medium fails.
   */
  commit(token: string, batch: StorageBatch): Promise<string | undefined>;
  /** Releases what the handle holds (descriptors, connections). Pending commits have settled before. */
  close(): Promise<void>;
  /**
   * Optional, for stores that take a lock around every commit anyway (a lock file): runs `fn` holding that lock,
   * handing it `held`, this storage as it reads and commits without taking the lock again. The Queue then commits
   * under the lock, and a view it finds stale there is read again and planned on under it, so that the commit cannot
   * lose: a plan made on a stale view is made again after a reload, and under contention most of them would be.
   */
  exclusive?<R>(fn: (held: HeldStorage) => Promise<R>): Promise<R>;
  /**
   * Optional, for stores whose list of segments can be lost alone (Redis evicting keys): lists the segments stored that
   * the list does not name, before the next `load` (failing quietly: the loss is then reported). Asked before items
   * the metadata holds in no listed segment are reported lost, but not again on the load that follows.
   */
  relist?(): void;
  /**
   * Optional: calls `listener` soon after another handle commits, so waiting consumers wake without polling.
   * Returns an unsubscribe function.
   */
  watch?(listener: () => void): () => void;
  /**
   * Optional: a name for this handle that the store can later recognise as alive or dead (a process id, a tab's
   * lock). Leases carry it. When absent, the Queue makes a random one.
   */
  readonly owner?: string;
  /** Optional: true when the handle named `owner` is certainly gone, so its leases come back before they expire. */
  isGone?(owner: string): boolean | Promise<boolean>;
  /**
   * Optional: true when the store tells its watchers (`watch`) once a handle that `isGone` was asked about has gone, so
   * that a wait for items needs no look now and then for the leases of handles that may have died.
   */
  readonly tellsGone?: boolean;
  /**
   * Optional, for stores whose handles can be judged gone while alive (a process stopped or cut off past a timeout,
   * whose leases others then take back before they expire): true while the items this handle leased as `owner` may be
   * in other hands already, because it could not show it was alive for long enough. Synchronous and cheap: an outbox
   * asks before each request it sends from a lease, and sends none while this says so.
   */
  leasesInDoubt?(owner: string): boolean;
  /**
   * Optional: large values kept beside the queue's items (an outbox's request bodies: photos, uploads), which would
   * not fit an item. Without it, an outbox on this store keeps only bodies that fit in an item.
   */
  readonly blobs?: BlobStorage;
}

/** A queue's storage as `QueueStorage.exclusive` hands it over: its lock is held throughout. */
export type HeldStorage = Pick<QueueStorage, 'load' | 'commit'>;

/**
 * Byte strings by key, beside one queue: written in pieces (appended), read by range, deleted whole. Nothing here is
 * part of a `commit`: whoever uses it orders its writes against the queue's commits (store the blob, then commit the
 * item that names it; commit the item's removal, then delete the blob) and collects what a crash between the two
 * left. A store keeps bytes and says what is there, as for segments.
 *
 * Keys are 1–200 characters of `[A-Za-z0-9._-]`, never `.` or `..` (safe as a file name, a Redis key part or an
 * IndexedDB key).
 */
export interface BlobStorage {
  /**
   * Writes `bytes` into blob `key` at `offset`, which is 0 (the blob starts afresh, dropping what it held) or the
   * blob's current length (an append). Resolves once the bytes are as durable as `durability` asks. Any other offset
   * is the caller's mistake, refused with 'ERR_INVALID_OPTION' (see `notAtEnd`), changing nothing: past the end it
   * would leave a gap. (RedisStore refuses only that: an append sent again after its reply was lost is short of it.)
   */
  write(key: string, offset: number, bytes: Uint8Array, durability: Durability): Promise<void>;
  /** Bytes `[start, end)` of blob `key`; fewer when it is shorter; empty when it does not exist. */
  read(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Deletes the blobs `keys` whole; keys that do not exist are skipped. */
  delete(keys: readonly string[]): Promise<void>;
  /** The keys of every blob stored, in no particular order. */
  keys(): Promise<string[]>;
}

/** What a queue's storage holds, as of `token`. */
export interface StorageSnapshot {
  readonly token: string;
  /** The metadata (as last written whole, with what was appended since), or `undefined` when none was ever written. */
  readonly meta: Uint8Array | undefined;
  /** Every segment, in ascending `id` order, with its current length in bytes. */
  readonly segments: readonly SegmentInfo[];
  /**
   * Optional: the newest segment and its length as the last commit left them, recorded apart from the segment
   * itself (a store whose files can be removed or cut under it, like FileStore, keeps it). A listing that shows the
   * segment shorter, or not at all, means bytes were lost under the queue: the Queue reports the items that may be
   * missing and never gives their numbers out again.
   */
  readonly tail?: SegmentInfo;
  /**
   * Optional: true when the storage may have gone back to an earlier state since this handle's last load (a server
   * restarted from an older snapshot, a replica that lagged taking over): segments and metadata may have been
   * rewritten since, so what the handle read before is read again, whole, not taken as a prefix of what is there.
   */
  readonly rewound?: boolean;
  /**
   * Optional: true when the storage was deleted since this handle's last load, and perhaps made again by another
   * handle (a Redis `FLUSHALL`, a `DEL` of the queue's keys): nothing read before is stored any more, whatever ids it
   * had, and the same ids may now name other items. Implies `rewound`. The Queue reports the items this handle knew
   * unacked as lost.
   */
  readonly remade?: boolean;
}

export interface SegmentInfo {
  /** A non-negative safe integer; the Queue numbers segments by the sequence number of their first item. */
  readonly id: number;
  /** Length in bytes. */
  readonly length: number;
}

/**
 * The changes of one commit. Any field may be absent. Its bytes may be views on part of a larger buffer (pushes are
 * framed side by side in shared blocks): read them through the view (`byteOffset`, `byteLength`), never `.buffer`
 * whole, and copy what you keep in memory, since a view keeps its whole buffer alive (an IndexedDB put of a view
 * clones its whole buffer: copy it out first). Neither the store nor the Queue changes them once `commit` is called.
 */
export interface StorageBatch {
  /**
   * Bytes to write into `segment` at `offset`, creating the segment when it does not exist (then `offset` is 0).
   * Anything stored past `offset` is cut off first: the new length is `offset + bytes.length`. No bytes at offset 0
   * still make the segment, listed with length 0: a drained queue keeps one at its next number, which holds how far
   * its numbers went should its metadata be lost (a store that skips an empty write loses that).
   */
  readonly write?: { readonly segment: number; readonly offset: number; readonly bytes: Uint8Array };
  /** The new metadata, replacing the old whole and atomically: a reader sees the old or the new, never a mix. */
  readonly meta?: Uint8Array;
  /**
   * Bytes to write into the metadata at `offset`, cutting off anything stored past it (as `write` does for a
   * segment): how a small change is appended. Never in the same batch as `meta`; `offset` is never below the length
   * of the last `meta` written whole, nor past the metadata's current length. Unlike `meta`, it need not be atomic:
   * the Queue frames and checksums what it appends and ignores a torn end.
   */
  readonly metaAppend?: { readonly offset: number; readonly bytes: Uint8Array };
  /** Segments to delete whole. */
  readonly remove?: readonly number[];
  /** Segments to set aside (kept for inspection, no longer listed), e.g. a file renamed to `.bad`. */
  readonly quarantine?: readonly number[];
  /** `strict`: durable against power loss before resolving. `relaxed`: durable against a crash of the process. */
  readonly durability: Durability;
}

/**
 * Marks a store on which queues opened by an earlier sluice may have left no trace (IndexedDbStore and RedisStore
 * wrote nothing until a queue's first commit): there, an outbox's dead letters that never held one are not there, so
 * a queue `x` without `x.dead` may be an outbox's as well as a Queue's, and an outbox is not refused on it (its items
 * are still checked to be tasks). Keyed through the global registry, so that every copy of sluice's code agrees.
 */
export const OPENS_UNTRACED_BEFORE = Symbol.for('sluice.opensUntracedBefore');

/** Sets `OPENS_UNTRACED_BEFORE` on `store`, out of its type and its enumerable keys. */
export function opensUntracedBefore(store: Store): void {
  Object.defineProperty(store, OPENS_UNTRACED_BEFORE, { value: true });
}
