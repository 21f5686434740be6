import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import { notAtEnd } from '../../core/blobs.js';
import { copyBytes } from '../../core/copy-bytes.js';
import { storageError } from '../../core/storage-errors.js';
import type { BlobStorage, Durability } from '../../core/store.js';
import { assemble } from './chunks.js';
import { refusedAfterQuota, settle } from './requests.js';
import type { Schema } from './schema.js';

/**
 * Blobs live in a database of their own beside the store's, `<dbName>.blobs`, so that their schema never moves with
 * the queues' (and a large write never shares a transaction with a push). One object store, `chunks`:
 * [queue, key, byte offset] -> the bytes one write appended there. A range read gets the chunks it overlaps.
 *
 * Version 2 has the layout of version 1; it is there so that an empty database of that name at version 1 (made by an
 * `indexedDB.open(name)` without a version, which version 1 took for its own and then failed on every call) gets an
 * upgrade, in which the layout is made (see `connect`).
 */
export const BLOBS: Schema = {
  version: 2,
  stores: ['chunks'],
  upgrades: [(db) => void db.createObjectStore('chunks'), () => undefined],
};

interface BlobsDB extends DBSchema {
  chunks: { key: [string, string, number]; value: Uint8Array };
}

/** Runs `fn` on the blob database's connection, holding the store open meanwhile (see `IndexedDbStore`). */
export type UseBlobs = <T>(fn: (db: IDBDatabase) => Promise<T>) => Promise<T>;

/** One queue's blobs in the store's blob database. */
export class IndexedDbBlobs implements BlobStorage {
  readonly #queue: string;
  readonly #use: UseBlobs;

  constructor(queue: string, use: UseBlobs) {
    this.#queue = queue;
    this.#use = use;
  }

  write(key: string, offset: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    return this.#run(`Cannot write the blob ${key} of queue "${this.#queue}".`, async (db) => {
      const tx = db.transaction('chunks', 'readwrite', { durability: durability === 'strict' ? 'strict' : 'relaxed' });
      // A failing request fails the transaction: `done` rejects with it, so the request's own promise is not awaited.
      try {
        if (offset > 0) {
          // An append: at the blob's end, found in the same transaction (its last chunk), or bytes past a gap no read reaches.
          const last = await tx.store.openCursor(this.#range(key, 0, Infinity), 'prev');
          const length = last ? last.key[2] + last.value.length : 0;
          if (length !== offset) throw notAtEnd(key, offset, length);
        }
        if (offset === 0) tx.store.delete(this.#range(key, 0, Infinity)).catch(() => undefined);
        tx.store.put(copyBytes(bytes), [this.#queue, key, offset]).catch(() => undefined);
      } catch (error) {
        // A put that threw (quota, a value it cannot store) leaves the delete standing, which would commit alone and
        // take the blob's old bytes with it: the write changes nothing instead (nor does an append refused).
        tx.done.catch(() => undefined);
        tx.abort();
        throw error;
      }
      settle(tx);
      await tx.done;
    });
  }

  read(key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return Promise.resolve(new Uint8Array(0));
    return this.#run(`Cannot read the blob ${key} of queue "${this.#queue}".`, async (db) => {
      const tx = readOnly(db);
      const { store } = tx;
      // The chunk that holds `start` begins at or before it: the last offset up to `start`, then every one before `end`.
      const before = await store.openKeyCursor(this.#range(key, 0, start + 1), 'prev');
      const from = before ? before.key[2] : start;
      const range = this.#range(key, from, end);
      const reads = Promise.all([store.getAllKeys(range), store.getAll(range)]);
      settle(tx);
      const [keys, values] = await reads;
      // Up to the first gap, as a queue's segments are: bytes that were never written are not there to be read.
      return assemble(keys, values, start, end, from);
    });
  }

  delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    return this.#run(`Cannot delete blobs of queue "${this.#queue}".`, (db) => {
      const tx = db.transaction('chunks', 'readwrite');
      for (const key of keys) tx.store.delete(this.#range(key, 0, Infinity)).catch(() => undefined);
      settle(tx);
      return tx.done;
    });
  }

  keys(): Promise<string[]> {
    return this.#run(`Cannot list the blobs of queue "${this.#queue}".`, async (db) => {
      const tx = readOnly(db);
      const reading = tx.store.getAllKeys(IDBKeyRange.bound([this.#queue], [this.#queue, []]));
      settle(tx);
      const all = await reading;
      return [...new Set(all.map((k) => k[1]))];
    });
  }

  /** `fn` on the blob database through idb's promises (blob calls are few and large: no hot path to go around them). */
  #run<T>(failed: string, fn: (db: IDBPDatabase<BlobsDB>) => Promise<T>): Promise<T> {
    const run = () => this.#use((db) => fn(wrap(db) as IDBPDatabase<BlobsDB>));
    return run()
      .catch((error: unknown) => (refusedAfterQuota(error) ? run() : Promise.reject(error)))
      .catch((error: unknown) => {
        throw storageError(error, failed);
      });
  }

  /** Chunks of `key` starting in `[from, to)`. */
  #range(key: string, from: number, to: number): IDBKeyRange {
    return IDBKeyRange.bound([this.#queue, key, from], [this.#queue, key, to], false, true);
  }
}

/**
 * A read's transaction. Its `done`, which idb makes for every transaction, is never awaited (the requests' answers
 * are): a transaction the browser aborts (site data cleared) would leave it rejected unhandled, an error the app's
 * tracker reports that is no SluiceError and that no caller can catch.
 */
function readOnly(db: IDBPDatabase<BlobsDB>) {
  const tx = db.transaction('chunks', 'readonly');
  tx.done.catch(() => undefined);
  return tx;
}
