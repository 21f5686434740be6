import type { SluiceError } from '../../core/errors.js';
import { storageError } from '../../core/storage-errors.js';
import { idOf } from '../../core/ids.js';
import { checkName } from '../../core/options.js';
import { opensUntracedBefore, type QueueStorage, type Store } from '../../core/store.js';
import { check, checkedOptions, integer, isObject, optional, text } from '../../core/validate.js';
import { BLOBS, IndexedDbBlobs } from './blobs.js';
import { connect, Database } from './connection.js';
import { holds, listed, markOpened } from './presence.js';
import { IndexedDbQueueStorage } from './queue-storage.js';
import { untilClosed } from './requests.js';
import { QUEUES, type Schema } from './schema.js';
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
  readonly dbName?: string | undefined;
  /**
   * The IndexedDB implementation, read when the first queue opens. In Node, pass fake-indexeddb's (after
   * `import 'fake-indexeddb/auto'`), or a fresh `new IDBFactory()` per test.
   * @default globalThis.indexedDB
   */
  readonly indexedDB?: IndexedDbFactory | undefined;
  /**
   * How long opening waits, once blocked, for another tab or worker that holds the database open at an older
   * version and does not close it (a 'blocked' event says so when the wait begins); and how long a write waits for a
   * queue's writer lock held by another that does not let it go (a frozen background tab; 2 s at least, as a tab
   * busy for a moment is not frozen). Then the call rejects with
   * 'ERR_LOCKED'; the next one tries again. At most 2147483647 (what a timer holds, about 24.8 days); `Infinity`
   * waits as long as it takes.
   * @default 10_000
   */
  readonly blockedTimeoutMs?: number | undefined;
}

/** Sent when opening the database waits for another tab or worker to close its connection. */
export interface BlockedDetail {
  /** The database waited for: the store's `dbName`, or its blobs' beside it (`<dbName>.blobs`). */
  readonly dbName: string;
  /** The version this sluice opens at. */
  readonly version: number;
  /** The version the other connection holds open. */
  readonly oldVersion: number;
}

/** Sent when the browser says a database of the store lost what it held (see `IndexedDbStore.dataLoss`). */
export interface DataLossDetail {
  /** The database: the store's `dbName`, or its blobs' beside it (`<dbName>.blobs`). */
  readonly dbName: string;
  /** What the browser says was lost: `'total'` (Chromium deleted it and made it again, empty). */
  readonly loss: 'total' | (string & {});
  /** The browser's reason, as it gives it ("IndexedDB (database was corrupt): checksum mismatch"). */
  readonly message: string;
}

/** The events of an `IndexedDbStore`, by type. */
export interface IndexedDbStoreEventMap {
  blocked: CustomEvent<BlockedDetail>;
  dataloss: CustomEvent<DataLossDetail>;
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
 * Events: 'blocked' (`BlockedDetail`), when opening waits for another tab to close an older version; 'dataloss'
 * (`DataLossDetail`), when the browser says a database it opened lost what it held (Chromium, after it deleted one it
 * found damaged).
 *
 * The store connects when a queue opens and closes its connections once every queue opened on it has closed (a
 * connection left open would keep other tabs' upgrades and deletions waiting on this one, and cost memory).
 *
 * @example
 * const store = new IndexedDbStore({ dbName: 'my-app' });
 * store.addEventListener('blocked', () => showBanner('Close the other tabs of this app to continue.'));
 * const queue = await Queue.open({ name: 'uploads', store });
 */
export class IndexedDbStore extends EventTarget implements Store {
  readonly dbName: string;
  /** Stores on the same database share its queues. */
  readonly scope: string;
  readonly #factory: IDBFactory | undefined;
  readonly #blockedTimeoutMs: number;
  readonly #locks: Locks | undefined;
  readonly #queues: Database;
  /** Outbox bodies and other blobs, in a database of their own (see blobs.ts). */
  readonly #blobs: Database;
  /** Queue storages open on this store, and blob calls running: the connections close when none are left. */
  #users = 0;
  readonly #dataLoss: DataLossDetail[] = [];

  /**
   * What the browser said was lost, when opening a database of this store found it so (see `DataLossDetail`); each
   * one is also a 'dataloss' event, sent before the queue's open resolves. Chromium says it once, to the first open
   * after it deleted a damaged database: the queues then open empty, and nothing else tells what they held is gone.
   */
  get dataLoss(): readonly DataLossDetail[] {
    return this.#dataLoss;
  }

  constructor(options: IndexedDbStoreOptions = {}) {
    super();
    // Before `exists`, an open wrote nothing: an outbox's dead letters that never held one left no trace.
    opensUntracedBefore(this);
    checkedOptions(options, 'options', ['dbName', 'indexedDB', 'blockedTimeoutMs']);
    const { dbName = 'sluice', indexedDB, blockedTimeoutMs = 10_000 } = options;
    check(
      { dbName, indexedDB, blockedTimeoutMs },
      {
        dbName: text,
        indexedDB: optional(['an IDBFactory', (v) => isObject[1](v) && typeof (v as IDBFactory).open === 'function']),
        // A longer timer would fire at once (browsers and Node keep its delay in 32 bits).
        blockedTimeoutMs: ['an integer from 0 to 2147483647 (or Infinity)', (v) => v === Infinity || integer(0, 2 ** 31 - 1)[1](v)],
      },
    );
    this.dbName = dbName;
    this.scope = `indexeddb:${dbName}${factoryMark(indexedDB as IDBFactory | undefined)}`;
    this.#factory = indexedDB as IDBFactory | undefined;
    this.#blockedTimeoutMs = blockedTimeoutMs;
    // Web Locks, where the platform has them (not Node 20, not before Safari 15.4): see IndexedDbQueueStorage.
    this.#locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
    this.#queues = this.#database(dbName, QUEUES);
    this.#blobs = this.#database(`${dbName}.blobs`, BLOBS);
  }

  async open(name: string): Promise<QueueStorage> {
    checkName(name);
    // Counted before the connection is asked for, so that another queue closing meanwhile does not close it.
    this.#users++;
    try {
      const connection = await this.#queues.get();
      // Before it resolves: `exists` says true from then on, in every tab, though the queue holds nothing yet.
      await markOpened(connection, name);
      const storage = new IndexedDbQueueStorage(name, this.dbName, connection, this.#locks, this.#release, this.#blockedTimeoutMs);
      // The blob database as it is now: lost later (deleted, say), it is not made again, empty, under this handle.
      const mark = this.#blobs.lost;
      return Object.assign(storage, { blobs: new IndexedDbBlobs(name, (fn) => this.#useBlobs(fn, mark)) });
    } catch (error) {
      this.#release();
      throw error;
    }
  }

  /**
   * True once the queue `name` was opened on this database, by any tab or worker (an outbox's dead letters, opened
   * and still empty, included), or written to by an earlier sluice; false for a name never opened. Makes nothing: a
   * database that is not there is not made to answer (where the browser cannot list its databases, Firefox before
   * 126, it is made, empty, as the queue's open that follows makes it).
   */
  async exists(name: string): Promise<boolean> {
    checkName(name);
    this.#users++;
    try {
      // The connection open for this store's queues, if any; none is made to a database that is not there (nor
      // made again after it was deleted under the handles open on it, see `Database`).
      if (!this.#queues.current && !(await listed(this.#factory ?? globalThis.indexedDB, this.dbName))) return false;
      return await holds((await this.#queues.get()).db, name);
    } catch (error) {
      throw storageError(error, `Cannot read queue "${name}" from IndexedDB.`);
    } finally {
      this.#release();
    }
  }

  /** The database `name`, opened lazily through the factory read then (see `IndexedDbStoreOptions.indexedDB`). */
  #database(name: string, schema: Schema): Database {
    return new Database((onLost) =>
      connect(this.#factory ?? globalThis.indexedDB, name, schema, {
        blockedTimeoutMs: this.#blockedTimeoutMs,
        onBlocked: (oldVersion) => this.dispatchEvent(new CustomEvent('blocked', { detail: { dbName: name, version: schema.version, oldVersion } })),
        onLost,
        onDataLoss: (loss, message) => {
          const detail: DataLossDetail = { dbName: name, loss, message };
          this.#dataLoss.push(detail);
          this.dispatchEvent(new CustomEvent('dataloss', { detail }));
        },
      }),
    );
  }

  // A blob call holds the store open while it runs: one made after its queue closed neither fails because the last
  // queue closing closed the connection under it, nor leaves a connection open behind it. A handle whose blob
  // database was lost since it opened (`mark`: deleted by another tab or with the site's data, or closed by the
  // browser) is told so, as its queue's calls are when the queue database is lost, rather than have the database made
  // again, empty, under it (what it stored there, an outbox's bodies, would be gone without a word). A handle opened
  // since starts anew.
  readonly #useBlobs = async <T>(fn: (db: IDBDatabase) => Promise<T>, mark: SluiceError | undefined): Promise<T> => {
    const blobs = this.#blobs;
    this.#users++;
    try {
      if (blobs.lost !== mark) throw blobs.lost;
      const { db } = await blobs.get();
      // idb's promises wait on transactions the browser may never settle once it closed the database itself.
      return await untilClosed<T>(db, (resolve, reject) => void fn(db).then(resolve, reject));
    } catch (error) {
      // A call running when the database went fails on the closed connection: said as why it closed.
      throw blobs.lost !== mark ? blobs.lost : error;
    } finally {
      this.#release();
    }
  };

  readonly #release = (): void => {
    if (--this.#users > 0) return;
    this.#queues.close();
    this.#blobs.close();
  };
}

/**
 * What tells a factory's databases from the platform's in a scope: nothing for the platform's (a page's and its
 * worker's are two objects over one origin's databases, which share their queues); for another (`fake-indexeddb`'s,
 * one per test), its own id, told apart by the object.
 * Two fake factories in one process hold other databases of the same name: one scope, an outbox's handles on one
 * took the other's news for their own (a `remove()` there withdrew a task of the same id here).
 */
function factoryMark(factory: IDBFactory | undefined): string {
  if (factory === undefined || factory === (globalThis as { indexedDB?: IDBFactory }).indexedDB) return '';
  return `#${idOf(factory)}`;
}
