import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import type { BlobStorage, Durability } from '../../core/store.js';
import { storageError } from '../../core/storage-errors.js';

/**
 * Blobs live in a database of their own beside the store's, `<dbName>.blobs`, so that their schema never moves with
 * the queues' (and a large write never shares a transaction with a push). One object store, `chunks`:
 * [queue, key, byte offset] -> the bytes one write appended there. A range read gets the chunks it overlaps.
 */
interface BlobsDB extends DBSchema {
  chunks: { key: [string, string, number]; value: Uint8Array };
}

type Database = IDBPDatabase<BlobsDB>;

const VERSION = 1;

/** The blob database of a store, opened on first use, and again after another tab's upgrade or the browser closed it. */
export class BlobDatabase {
  readonly #factory: () => IDBFactory;
  readonly #name: string;
  #db: Promise<Database> | undefined;

  constructor(factory: () => IDBFactory, dbName: string) {
    this.#factory = factory;
    this.#name = `${dbName}.blobs`;
  }

  connection(): Promise<Database> {
    if (!this.#db) {
      const request = this.#factory().open(this.#name, VERSION);
      request.addEventListener('upgradeneeded', () => (wrap(request.result) as unknown as Database).createObjectStore('chunks'));
      const connected: Promise<Database> = (wrap(request) as unknown as Promise<Database>).then(
        (db) => {
          const forget = () => {
            if (this.#db === connected) this.#db = undefined;
          };
          db.addEventListener('versionchange', () => {
            db.close();
            forget();
          });
          db.addEventListener('close', forget);
          return db;
        },
        (error: unknown) => {
          if (this.#db === connected) this.#db = undefined;
          throw storageError(error, `Cannot open the IndexedDB database "${this.#name}".`);
        },
      );
      this.#db = connected;
    }
    return this.#db;
  }
}

/** One queue's blobs in the store's blob database. */
export class IndexedDbBlobs implements BlobStorage {
  readonly #queue: string;
  readonly #db: BlobDatabase;

  constructor(queue: string, db: BlobDatabase) {
    this.#queue = queue;
    this.#db = db;
  }

  async write(key: string, offset: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    try {
      const db = await this.#db.connection();
      const tx = db.transaction('chunks', 'readwrite', { durability: durability === 'strict' ? 'strict' : 'relaxed' });
      // A failing request fails the transaction: `done` rejects with it, so the request's own promise is not awaited.
      if (offset === 0) tx.store.delete(this.#range(key, 0, Infinity)).catch(() => undefined);
      tx.store.put(bytes.slice(), [this.#queue, key, offset]).catch(() => undefined);
      await tx.done;
    } catch (error) {
      throw storageError(error, `Cannot write the blob ${key} of queue "${this.#queue}".`);
    }
  }

  async read(key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    try {
      const db = await this.#db.connection();
      const tx = db.transaction('chunks', 'readonly');
      // The chunk that holds `start` begins at or before it: the last offset up to `start`, then every one before `end`.
      const before = await tx.store.openKeyCursor(this.#range(key, 0, start + 1), 'prev');
      const from = before ? before.key[2] : start;
      const keys = await tx.store.getAllKeys(this.#range(key, from, end));
      const chunks = await tx.store.getAll(this.#range(key, from, end));
      const out = new Uint8Array(end - start);
      let filled = 0;
      chunks.forEach((chunk, i) => {
        const at = keys[i]![2];
        const lo = Math.max(start, at);
        const hi = Math.min(end, at + chunk.length);
        if (hi > lo) {
          out.set(chunk.subarray(lo - at, hi - at), lo - start);
          filled = Math.max(filled, hi - start);
        }
      });
      return filled === out.length ? out : out.subarray(0, filled);
    } catch (error) {
      throw storageError(error, `Cannot read the blob ${key} of queue "${this.#queue}".`);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      const tx = (await this.#db.connection()).transaction('chunks', 'readwrite');
      for (const key of keys) tx.store.delete(this.#range(key, 0, Infinity)).catch(() => undefined);
      await tx.done;
    } catch (error) {
      throw storageError(error, `Cannot delete blobs of queue "${this.#queue}".`);
    }
  }

  async keys(): Promise<string[]> {
    try {
      const all = await (await this.#db.connection()).getAllKeys('chunks', IDBKeyRange.bound([this.#queue], [this.#queue, []]));
      return [...new Set(all.map((k) => k[1]))];
    } catch (error) {
      throw storageError(error, `Cannot list the blobs of queue "${this.#queue}".`);
    }
  }

  /** Chunks of `key` starting in `[from, to)`. */
  #range(key: string, from: number, to: number): IDBKeyRange {
    return IDBKeyRange.bound([this.#queue, key, from], [this.#queue, key, to], false, true);
  }
}
