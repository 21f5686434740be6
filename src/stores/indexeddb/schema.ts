import { wrap, type DBSchema, type IDBPDatabase } from 'idb';

/**
 * The database layout. One database holds any number of queues:
 * - `queues`: queue name -> its commit counter (the token);
 * - `meta`: queue name -> its metadata blob. Kept apart from the counter so that a commit without new metadata
 *   (every push) can write the counter blind, without reading the blob first;
 * - `segments`: [queue, segment id] -> the segment's length;
 * - `chunks`: [queue, segment id, byte offset] -> the bytes one commit appended there;
 * - `quarantine`: chunks of segments set aside, under their old keys.
 * A commit appends one chunk instead of rewriting its segment, so a push costs one small record.
 */
export interface SluiceDB extends DBSchema {
  queues: { key: string; value: { version: number } };
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
    db.createObjectStore('queues');
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
    const db = wrap(request.result) as Database;
    for (let v = event.oldVersion; v < VERSION; v++) upgrades[v]!(db);
  });
  const db = (await wrap(request)) as Database;
  db.addEventListener('versionchange', () => {
    db.close();
    onClose();
  });
  // The browser closed it (storage cleared, disk error): the next call opens again.
  db.addEventListener('close', onClose);
  return db;
}
