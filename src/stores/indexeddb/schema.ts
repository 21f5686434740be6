import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

/**
 * The database layout. One database holds any number of queues:
 * - `queues`: queue name -> its commit counter (the token);
 * - `metas`: queue name -> its metadata blob;
 * - `segments`: [queue, segment id] -> the segment's length;
 * - `chunks`: [queue, segment id, byte offset] -> the bytes one commit appended there.
 * A commit appends one chunk instead of rewriting its segment, so a push costs one small record.
 */
export interface SluiceDB extends DBSchema {
  queues: { key: string; value: number };
  metas: { key: string; value: Uint8Array };
  segments: { key: [string, number]; value: { id: number; length: number } };
  chunks: { key: [string, number, number]; value: Uint8Array };
  quarantine: { key: [string, number, number]; value: Uint8Array };
}

export type Database = IDBPDatabase<SluiceDB>;

/** The schema version. Each version's upgrade step below runs once, in order, from whatever version a database has. */
export const VERSION = 1;

const upgrades: ((db: Database) => void)[] = [
  // 0 -> 1: the first layout.
  (db) => {
    db.createObjectStore('queues');
    db.createObjectStore('metas');
    db.createObjectStore('segments');
    db.createObjectStore('chunks');
    db.createObjectStore('quarantine');
  },
];

/**
 * Opens (creating or upgrading) the database. When another tab asks for a newer version, this connection closes
 * at once instead of blocking it, and `onClose` lets the owner open again lazily.
 */
export function openDatabase(name: string, onClose: () => void): Promise<Database> {
  return openDB<SluiceDB>(name, VERSION, {
    upgrade(db, oldVersion) {
      for (let v = oldVersion; v < VERSION; v++) upgrades[v]!(db);
    },
    blocking(_current, _blocked, event) {
      (event.target as IDBDatabase).close();
      onClose();
    },
    terminated: onClose,
  });
}
