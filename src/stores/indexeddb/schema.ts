/**
 * A queue's head record: the count of the commits that were not plain appends. Together with the keys of the
 * last data chunk and the last metadata chunk it makes the queue's token (see `queue-storage.ts`).
 */
export interface Head {
  readonly queue: string;
  readonly version: number;
  /**
   * The newest segment and its length as the commit that wrote the head left them, or as the appends after it did
   * once their writer let go of the lock (see `StorageSnapshot.tail`): kept apart from the chunks, so that chunks
   * removed under the queue are told from a queue that never had them. Absent (unknown) in heads written before it
   * was recorded, still schema version 2: those read it as no record, as a FileStore counter without one.
   */
  readonly tail?: SegmentRecord;
}

/** A segment's record. For the segment with the greatest id, `length` may lag: its chunks tell (see `Known`). */
export interface SegmentRecord {
  readonly id: number;
  readonly length: number;
}

/**
 * The database layout. One database holds any number of queues:
 * - `heads`: [queue, version] -> Head. A unique index on `queue` lets a queue have one head only, so a commit can
 *   replace it blind (delete the head it knew, add the next one) and still fail when another handle did so first:
 *   the add breaks the index and the whole transaction aborts, with no read to wait for;
 * - `meta`: queue -> the metadata as last written whole;
 * - `segments`: [queue, segment id] -> SegmentRecord, written when a segment is started and when it is sealed;
 * - `chunks`: [queue, segment id, byte offset] -> the bytes one commit wrote there; what was appended to the
 *   metadata is under segment id -1. An append is one small record, not a rewrite of the segment;
 * - `quarantine`: chunks of segments set aside, under their old keys.
 *
 * Version 2 moved the tail segment's length out of the head: a push that appends to the tail is one put into
 * `chunks` and nothing else (the head is replaced only by commits that are not plain appends).
 */
export const STORES = ['chunks', 'heads', 'meta', 'quarantine', 'segments'] as const;

/** The schema version. Each version's upgrade step below runs once, in order, from whatever version a database has. */
export const VERSION = 2;

/** `upgrades[v]` takes a database from version `v` to `v + 1`. A new version appends a step; none is ever edited. */
export const upgrades: readonly ((db: IDBDatabase, tx: IDBTransaction) => void)[] = [
  // 0 -> 1: the first layout.
  (db) => {
    db.createObjectStore('heads').createIndex('queue', 'queue', { unique: true });
    db.createObjectStore('meta');
    db.createObjectStore('segments');
    db.createObjectStore('chunks');
    db.createObjectStore('quarantine');
  },
  // 1 -> 2: each head's `tail` (the newest segment and its length) moves to that segment's record in `segments`.
  // Version 1 code wrote blind relying on every commit replacing the head; that it cannot open this version is
  // what keeps it from writing beside version 2 code, which does not.
  (_db, tx) => {
    const segments = tx.objectStore('segments');
    const cursor = tx.objectStore('heads').openCursor();
    cursor.onsuccess = () => {
      const found = cursor.result;
      if (!found) return;
      const { queue, version, tail } = found.value as Head & { tail?: SegmentRecord };
      if (tail) {
        segments.put({ id: tail.id, length: tail.length }, [queue, tail.id]);
        found.update({ queue, version });
      }
      found.continue();
    };
  },
];

/** A database's layout: its version, its object stores, and the steps that make it (see `upgrades`). */
export interface Schema {
  readonly version: number;
  readonly stores: readonly string[];
  readonly upgrades: readonly ((db: IDBDatabase, tx: IDBTransaction) => void)[];
}

/** The queues' database. */
export const QUEUES: Schema = { version: VERSION, stores: STORES, upgrades };

/**
 * What `db` holds in place of the object stores `stores` (sorted), or undefined when it has exactly those (every
 * version so far has the same ones; a version that changes them makes this a table by version).
 */
export function layoutMismatch(db: IDBDatabase, stores: readonly string[]): string | undefined {
  const names = [...db.objectStoreNames].sort();
  if (names.join() === stores.join()) return undefined;
  return names.length === 0 ? 'no object stores' : `the object stores ${names.map((n) => `"${n}"`).join(', ')}`;
}
