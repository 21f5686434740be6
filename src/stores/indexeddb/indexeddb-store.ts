import { SluiceError } from '../../core/errors.js';
import { checkName } from '../../core/options.js';
import type { QueueStorage, Store } from '../../core/store.js';
import { check, invalid, isObject, limit, optional, text } from '../../core/validate.js';
import { BlobDatabase, IndexedDbBlobs } from './blobs.js';
import { connect, type Connection } from './connection.js';
import { IndexedDbQueueStorage } from './queue-storage.js';
import { VERSION } from './schema.js';
import type { Locks } from './writer-lock.js';

/**
 * An IndexedDB implementation: the platform's `IDBFactory`. Named through `globalThis` because Node's types have no
 * `IDBFactory` without the DOM lib, and the public types must compile there too (where any object with `open` fits).
 */
export type IndexedDbFactory = typeof globalThis extends { indexedDB: infer F } ? F : { open(name: string, version?: number): unknown };

/** Options of `new IndexedDbStore()`. */
export interface IndexedDbStoreOptions {
  /**
   * The IndexedDB database holding the queues; one database holds any number of them. A database of that name that
   * is not sluice's is refused with 'ERR_INCOMPATIBLE_STORE' and left untouched.
   * @default 'sluice'
   */
  readonly dbName?: string;
  /**
   * The IndexedDB implementation, read when the first queue opens. In Node, pass fake-indexeddb's (after
   * `import 'fake-indexeddb/auto'`), or a fresh `new IDBFactory()` per test.
   * @default globalThis.indexedDB
   */
  readonly indexedDB?: IndexedDbFactory;
  /**
   * How long opening waits, once blocked, for another tab or worker that holds the database open at an older
   * version and does not close it (a 'blocked' event says so when the wait begins). Then the open rejects with
   * 'ERR_LOCKED'; the next one tries again. `Infinity` waits as long as it takes.
   * @default 10_000
   */
  readonly blockedTimeoutMs?: number;
}

/** Sent when opening the database waits for another tab or worker to close its connection. */
export interface BlockedDetail {
  readonly dbName: string;
  /** The version this sluice opens at. */
  readonly version: number;
  /** The version the other connection holds open. */
  readonly oldVersion: number;
}

/** The events of an `IndexedDbStore`, by type. */
export interface IndexedDbStoreEventMap {
  blocked: CustomEvent<BlockedDetail>;
}

type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void } | null;
type ListenerOptions = boolean | { readonly capture?: boolean; readonly once?: boolean; readonly passive?: boolean; readonly signal?: AbortSignal };

// Listeners typed by event name, as the Queue's are, declared here rather than through the core's TypedEventTarget
// so that the `sluice/indexeddb` types share no unexported type with `sluice`'s (and with no code to run).
export interface IndexedDbStore {
  addEventListener<K extends keyof IndexedDbStoreEventMap>(type: K, listener: Listener<IndexedDbStoreEventMap[K]>, options?: ListenerOptions): void;
  addEventListener(type: string, listener: Listener<Event>, options?: ListenerOptions): void;
  removeEventListener<K extends keyof IndexedDbStoreEventMap>(type: K, listener: Listener<IndexedDbStoreEventMap[K]>, options?: boolean | { readonly capture?: boolean }): void;
  removeEventListener(type: string, listener: Listener<Event>, options?: boolean | { readonly capture?: boolean }): void;
}

/**
 * Keeps queues in IndexedDB (browsers, web workers, service workers; Node with fake-indexeddb). Every commit is one
 * readwrite transaction holding data and metadata together, with the transaction's durability hint set from the
 * queue's `durability`. Where Web Locks exist, a queue's handle commits under a writer lock it keeps while it is
 * busy (a push is then one put); elsewhere every commit checks, in its transaction, that no other handle committed.
 *
 * Events: 'blocked' (`BlockedDetail`), when opening waits for another tab to close an older version.
 *
 * @example
 * const store = new IndexedDbStore({ dbName: 'my-app' });
 * store.addEventListener('blocked', () => showBanner('Close the other tabs of this app to continue.'));
 * const queue = await Queue.open({ name: 'uploads', store });
 */
export class IndexedDbStore extends EventTarget implements Store {
  readonly dbName: string;
  readonly #factory: IDBFactory | undefined;
  readonly #blockedTimeoutMs: number;
  readonly #locks: Locks | undefined;
  #connection: Promise<Connection> | undefined;
  /** Outbox bodies and other blobs, in a database of their own (see blobs.ts). */
  readonly #blobs: BlobDatabase;

  constructor(options: IndexedDbStoreOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
    const { dbName = 'sluice', indexedDB, blockedTimeoutMs = 10_000 } = options;
    check(
      { dbName, indexedDB, blockedTimeoutMs },
      { dbName: text, indexedDB: optional(['an IDBFactory', (v) => isObject[1](v) && typeof (v as IDBFactory).open === 'function']), blockedTimeoutMs: limit(0) },
    );
    this.dbName = dbName;
    this.#factory = indexedDB as IDBFactory | undefined;
    this.#blockedTimeoutMs = blockedTimeoutMs;
    // Web Locks, where the platform has them (not Node 20, not before Safari 15.4): see IndexedDbQueueStorage.
    this.#locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
    this.#blobs = new BlobDatabase(() => this.#factory ?? globalThis.indexedDB, this.dbName);
  }

  async open(name: string): Promise<QueueStorage> {
    checkName(name);
    const storage = new IndexedDbQueueStorage(name, this.dbName, await this.#connect(), this.#locks);
    return Object.assign(storage, { blobs: new IndexedDbBlobs(name, this.#blobs) });
  }

  /** The database, opened lazily, and again after it closed under its handles (deleted, upgraded by another tab). */
  #connect(): Promise<Connection> {
    if (this.#connection) return this.#connection;
    const factory = this.#factory ?? globalThis.indexedDB;
    if (!factory) {
      return Promise.reject(new SluiceError('ERR_STORAGE', 'IndexedDB is not available here. In Node, pass `indexedDB` from fake-indexeddb, or use FileStore.'));
    }
    const forget = () => {
      if (this.#connection === connecting) this.#connection = undefined;
    };
    const connecting = connect(factory, this.dbName, {
      blockedTimeoutMs: this.#blockedTimeoutMs,
      onBlocked: (oldVersion) => this.dispatchEvent(new CustomEvent('blocked', { detail: { dbName: this.dbName, version: VERSION, oldVersion } })),
      onLost: forget,
    });
    connecting.catch(forget);
    return (this.#connection = connecting);
  }
}
