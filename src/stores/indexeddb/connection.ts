import { describe, SluiceError } from '../../core/errors.js';
import { storageError } from '../../core/storage-errors.js';
import { forcedClosed } from './requests.js';
import { layoutMismatch, type Schema } from './schema.js';

/** An open database, and, once it closed under the handles using it, why. */
export interface Connection {
  readonly db: IDBDatabase;
  /** Set when the connection closed under its handles: every later call of theirs rejects with it. */
  lost?: SluiceError;
  /** The queues this connection found marked as opened, or marked (see `markOpened`). */
  marked?: Set<string>;
}

export interface ConnectOptions {
  /** How long an open blocked by another connection waits before it rejects ('ERR_LOCKED'). */
  readonly blockedTimeoutMs: number;
  /** Another connection holds the database at `oldVersion` and has not closed it: this open waits. */
  readonly onBlocked: (oldVersion: number) => void;
  /** The connection closed under its handles (deleted, upgraded by newer code, or closed by the browser), and why. */
  readonly onLost: (why: SluiceError) => void;
  /**
   * The browser says, as it opens the database, that what it held was lost: Chromium deletes a database whose files
   * it finds damaged (after a crash, say) and makes it again empty, telling only this open (`dataLoss` on the
   * `upgradeneeded` event). Said before the open resolves.
   */
  readonly onDataLoss?: (loss: string, message: string) => void;
}

/**
 * A database of a store: connected when first needed, and again after it closed under its handles (deleted,
 * upgraded by another tab) or was closed by `close`.
 */
export class Database {
  readonly #open: (onLost: (why: SluiceError) => void) => Promise<Connection>;
  #connection: Promise<Connection> | undefined;
  /**
   * Why the last connection to close under its handles did; undefined while none has. Each loss is an error of its
   * own: a handle keeps the one of when it opened, and one it finds changed tells it the database was lost since.
   */
  lost: SluiceError | undefined;

  constructor(open: (onLost: (why: SluiceError) => void) => Promise<Connection>) {
    this.#open = open;
  }

  get(): Promise<Connection> {
    if (this.#connection) return this.#connection;
    const forget = (why?: SluiceError) => {
      if (why) this.lost = why;
      if (this.#connection === connecting) this.#connection = undefined;
    };
    const connecting = this.#open(forget);
    connecting.catch(forget);
    return (this.#connection = connecting);
  }

  /** The connection made or being made, without making one: undefined while there is none. */
  get current(): Promise<Connection> | undefined {
    return this.#connection;
  }

  /** Closes the connection (once its running transactions end); the next `get` connects again. */
  close(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.then(({ db }) => db.close(), () => undefined);
  }
}

/**
 * Opens (creating or upgrading) the database `name` with the layout `schema` through `factory`. A database that is
 * not sluice's (another library's under the same name, or a newer sluice's) is refused with 'ERR_INCOMPATIBLE_STORE'
 * and left as it was: an upgrade of a layout that is not ours is aborted before it writes. When another tab asks for
 * a newer version or deletes the database, this connection closes at once instead of blocking it, and says why from
 * then on.
 */
export function connect(factory: IDBFactory | undefined, name: string, schema: Schema, options: ConnectOptions): Promise<Connection> {
  const { version, stores, upgrades } = schema;
  return new Promise<Connection>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    if (!factory) throw new SluiceError('ERR_STORAGE', 'IndexedDB is not available here. In Node, pass `indexedDB` from fake-indexeddb, or use FileStore.');
    // A factory passed in Node without the globals it comes with: every read would fail on `IDBKeyRange` later.
    if (typeof IDBKeyRange === 'undefined') {
      throw new SluiceError('ERR_STORAGE', "IndexedDB's `IDBKeyRange` is not defined here. In Node, `import 'fake-indexeddb/auto'` as well as passing its factory.");
    }
    // May throw at once (a SecurityError where storage is denied: an opaque origin, some private modes), which
    // rejects this promise and is wrapped below like any other failure to open.
    const request = factory.open(name, version);
    // Not an IDBOpenDBRequest (a promise, as idb's `openDB` gives): nothing would ever settle the open.
    if (typeof request !== 'object' || request === null || !('onsuccess' in request) || !('onupgradeneeded' in request)) {
      throw new SluiceError('ERR_INVALID_OPTION', `Expected \`indexedDB\` to be an IDBFactory, whose open() gives an IDBOpenDBRequest; its open() gave ${describe(request)}.`);
    }
    request.onupgradeneeded = (event) => {
      const db = request.result;
      const tx = request.transaction!;
      // Told once, on this event only: the next open finds an ordinary database, empty.
      const { dataLoss, dataLossMessage } = event as IDBVersionChangeEvent & { dataLoss?: unknown; dataLossMessage?: unknown };
      if (typeof dataLoss === 'string' && dataLoss !== 'none') options.onDataLoss?.(dataLoss, typeof dataLossMessage === 'string' ? dataLossMessage : '');
      // No longer blocked: from here the wait is for the upgrade, however long it takes, not for another tab. One
      // given up on already (ERR_LOCKED) changes nothing: the caller was told it failed.
      clearTimeout(timer);
      if (settled) {
        tx.abort();
        return;
      }
      // A database with no object stores is new, whatever its version: `indexedDB.open(name)` without a version (a
      // probe from devtools or another script) makes one at version 1, and refusing it would refuse it for good.
      const from = db.objectStoreNames.length > 0 ? event.oldVersion : 0;
      const found = from > 0 && layoutMismatch(db, stores);
      if (found) {
        fail(foreign(name, event.oldVersion, found));
        tx.abort();
        return;
      }
      for (let v = from; v < version; v++) upgrades[v]!(db, tx);
    };
    request.onblocked = (event) => {
      options.onBlocked(event.oldVersion);
      const ms = options.blockedTimeoutMs;
      if (timer === undefined && ms !== Infinity) {
        timer = setTimeout(() => {
          fail(
            new SluiceError(
              'ERR_LOCKED',
              `Opening the IndexedDB database "${name}" at version ${version} waits for another tab or worker that holds it open at ` +
                `version ${event.oldVersion} and does not close it; waited ${ms} ms (blockedTimeoutMs). Close that tab.`,
            ),
          );
        }, ms);
      }
    };
    request.onerror = () => {
      const error = request.error;
      fail(
        error?.name === 'VersionError'
          ? new SluiceError('ERR_INCOMPATIBLE_STORE', `The IndexedDB database "${name}" is at a version newer than this sluice reads (${version}): ${newer}`, { cause: error })
          : error,
      );
    };
    request.onsuccess = () => {
      const db = request.result;
      const found = layoutMismatch(db, stores);
      if (settled || found) {
        // Opened after this call gave up waiting (it is opened again when next needed), or not sluice's.
        db.close();
        if (found) fail(foreign(name, db.version, found));
        return;
      }
      settled = true;
      clearTimeout(timer);
      const connection: Connection = { db };
      const lose = (error: SluiceError) => {
        if (connection.lost) return;
        connection.lost = error;
        db.close();
        options.onLost(error);
      };
      db.onversionchange = ({ newVersion }) =>
        lose(
          newVersion === null
            ? new SluiceError(
                'ERR_NOT_FOUND',
                `The IndexedDB database "${name}" was deleted (by another tab or worker, or with the site's data) while this queue was open; what it held is gone. Open the queue again to start anew.`,
              )
            : new SluiceError('ERR_INCOMPATIBLE_STORE', `Another tab or worker opened the IndexedDB database "${name}" at version ${newVersion}: ${newer}`),
        );
      // The browser closed it (site data cleared, a disk error): what it held may be gone too.
      db.onclose = () => {
        lose(new SluiceError('ERR_STORAGE', `The browser closed the IndexedDB database "${name}" (site data cleared, or a storage error). Open the queue again.`));
        forcedClosed(db, connection.lost);
      };
      resolve(connection);
    };
  }).catch((error: unknown) => {
    throw storageError(error, `Cannot open the IndexedDB database "${name}".`);
  });
}

const newer = `newer code (a newer sluice in another tab, or another library using the name). Reload the page, or pass another \`dbName\`.`;

function foreign(name: string, version: number, found: string): SluiceError {
  return new SluiceError(
    'ERR_INCOMPATIBLE_STORE',
    `The IndexedDB database "${name}" is not a sluice database: it is at version ${version} with ${found}. Nothing was written to it; pass another \`dbName\`.`,
  );
}
