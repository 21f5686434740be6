import { wrap, type DBSchema, type IDBPDatabase } from 'idb';

/** A queue's head record: which commit it is at, and how long its newest segment is. */
export interface Head {
  readonly queue: string;
  /** The commit counter: the queue's token. */
  readonly version: number;
  /** The segment the last write went to, with its length (kept here, not in `segments`, while it grows). */
  readonly tail?: { readonly id: number; readonly length: number };
}

/**
 * The database layout. One database holds any number of queues:
 * - `heads`: [queue, version] -> the queue's head. A unique index on `queue` lets each queue have one head only,
 *   so a commit can replace it blind (delete the head it read, add the next one) and still fail when another
 *   handle committed first: the add then breaks the index and the whole transaction aborts. No read has to come
 *   back before the transaction can commit, which is what makes an append one round trip;
 * - `meta`: queue name -> its metadata blob, apart from the head so that a push does not rewrite it;
 * - `segments`: [queue, segment id] -> the segment's length (the newest segment's length is its head's `tail`);
 * - `chunks`: [queue, segment id, byte offset] -> the bytes one commit appended there;
 * - `quarantine`: chunks of segments set aside, under their old keys.
 * A commit appends one chunk instead of rewriting its segment, so a push costs one small record.
 */
export interface SluiceDB extends DBSchema {
  heads: { key: [string, number]; value: Head; indexes: { queue: string } };
  meta: { key: string; value: Uint8Array };
  segments: { key: [string, number]; value: { id: number; length: number } };
  chunks: { key: [string, number, number]; value: Uint8Array };
  quarantine: { key: [string, number, number]; value: Uint8Array };
}

export type Database = IDBPDatabase<SluiceDB>;

/** The schema version. Each version's upgrade step below runs once, in order, from whatever version a database has. */
export const VERSION = 1;

/** `upgrades[v]` takes a database from version `v` to `v + 1`. A new version appends a step; none is ever edited. */
export const upgrades: readonly ((db: Database) => void)[] = [
  // 0 -> 1: the first layout.
  (db) => {
    db.createObjectStore('heads').createIndex('queue', 'queue', { unique: true });
    db.createObjectStore('meta');
    db.createObjectStore('segments');
    db.createObjectStore('chunks');
    db.createObjectStore('quarantine');
  },
];

/**
 * Opens (creating or upgrading) the database through `factory`. When another tab asks for a newer version, this
 * connection closes at once instead of blocking it, and `onClose` lets the owner open again lazily.
 */
export async function openDatabase(factory: IDBFactory, name: string, onClose: () => void): Promise<Database> {
  // idb's openDB, with the factory passed in rather than read from the global.
  const request = factory.open(name, VERSION);
  request.addEventListener('upgradeneeded', (event) => {
    const db = wrap(request.result) as unknown as Database;
    for (let v = event.oldVersion; v < VERSION; v++) upgrades[v]!(db);
  });
  const db = (await wrap(request)) as unknown as Database;
  db.addEventListener('versionchange', () => {
    db.close();
    onClose();
  });
  // The browser closed it (site data cleared, a disk error): the next call opens again.
  db.addEventListener('close', onClose);
  return db;
}
