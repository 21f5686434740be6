import { SluiceError } from '../../core/errors.js';
import { checkName } from '../../core/options.js';
import { invalid } from '../../core/validate.js';
import type { QueueStorage, Store } from '../../core/store.js';
import { storageError } from '../../core/storage-errors.js';
import { BlobDatabase, IndexedDbBlobs } from './blobs.js';
import { IndexedDbQueueStorage } from './queue-storage.js';
import { openDatabase, type Database } from './schema.js';

/**
 * An IndexedDB implementation: the platform's `IDBFactory`. Named through `globalThis` because Node's types have no
 * `IDBFactory` without the DOM lib, and the public types must compile there too (where any object with `open` fits).
 */
export type IndexedDbFactory = typeof globalThis extends { indexedDB: infer F } ? F : { open(name: string, version?: number): unknown };

/** Options of `new IndexedDbStore()`. */
export interface IndexedDbStoreOptions {
  /**
   * The IndexedDB database holding the queues; one database holds any number of them.
   * @default 'sluice'
   */
  readonly dbName?: string;
  /**
   * The IndexedDB implementation, read when the first queue opens. In Node, pass fake-indexeddb's (after
   * `import 'fake-indexeddb/auto'`, whose globals idb needs), or a fresh `new IDBFactory()` per test.
   * @default globalThis.indexedDB
   */
  readonly indexedDB?: IndexedDbFactory;
}

/**
 * Keeps queues in IndexedDB (browsers, web workers, service workers; Node with fake-indexeddb). Every commit is one
 * readwrite transaction holding data and metadata together, with the transaction's durability hint set from the
 * queue's `durability`. Tabs share a queue through those transactions; Web Locks (where present) let a tab tell
 * that the holder of a lease has closed.
 *
 * @example
 * const queue = await Queue.open({ name: 'uploads', store: new IndexedDbStore({ dbName: 'my-app' }) });
 */
export class IndexedDbStore implements Store {
  readonly dbName: string;
  readonly #factory: IDBFactory | undefined;
  #db: Promise<Database> | undefined;
  /** Outbox bodies and other blobs, in a database of their own (see blobs.ts). */
  readonly #blobs: BlobDatabase;

  constructor(options: IndexedDbStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
    this.dbName = options.dbName ?? 'sluice';
    if (typeof this.dbName !== 'string' || this.dbName === '') invalid('dbName', 'a non-empty string', options.dbName);
    const factory = options.indexedDB;
    if (factory !== undefined && typeof (factory as Partial<IDBFactory> | null)?.open !== 'function') {
      invalid('indexedDB', 'an IDBFactory', factory);
    }
    this.#factory = factory as IDBFactory | undefined;
    this.#blobs = new BlobDatabase(() => this.#factory ?? globalThis.indexedDB, this.dbName);
  }

  async open(name: string): Promise<QueueStorage> {
    checkName(name);
    await this.#connection();
    return Object.assign(new IndexedDbQueueStorage(name, this.dbName, () => this.#connection()), { blobs: new IndexedDbBlobs(name, this.#blobs) });
  }

  /** The database, opened lazily, and again after another tab's upgrade (or the browser) closed it. */
  #connection(): Promise<Database> {
    if (!this.#db) {
      const factory = this.#factory ?? globalThis.indexedDB;
      if (!factory) {
        return Promise.reject(
          new SluiceError('ERR_STORAGE', 'IndexedDB is not available here. In Node, pass `indexedDB` from fake-indexeddb, or use FileStore.'),
        );
      }
      const connected: Promise<Database> = openDatabase(factory, this.dbName, () => {
        if (this.#db === connected) this.#db = undefined;
      }).catch((error: unknown) => {
        if (this.#db === connected) this.#db = undefined;
        throw storageError(error, `Cannot open the IndexedDB database "${this.dbName}".`);
      });
      this.#db = connected;
    }
    return this.#db;
  }
}
