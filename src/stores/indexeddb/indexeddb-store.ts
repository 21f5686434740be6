import { SluiceError } from '../../core/errors.js';
import { randomId } from '../../core/ids.js';
import { checkName, invalid } from '../../core/options.js';
import type { QueueStorage, StorageBatch, StorageSnapshot, Store } from '../../core/store.js';
import type { IDBPTransaction } from 'idb';
import { openDatabase, type Database, type SluiceDB } from './schema.js';

/** Options of `new IndexedDbStore()`. */
export interface IndexedDbStoreOptions {
  /**
   * The IndexedDB database holding the queues; one database holds any number of them.
   * @default 'sluice'
   */
  readonly dbName?: string;
}

/**
 * Keeps queues in IndexedDB (browsers, web workers, service workers; Node with fake-indexeddb). Every commit is one
 * readwrite transaction holding data and metadata together, with the transaction's durability hint set from the
 * queue's `durability`. Tabs share a queue through those transactions; Web Locks (where present) let a tab tell
 * that the holder of a lease has closed.
 */
export class IndexedDbStore implements Store {
  readonly dbName: string;
  #db: Promise<Database> | undefined;

  constructor(options: IndexedDbStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
    this.dbName = options.dbName ?? 'sluice';
    if (typeof this.dbName !== 'string' || this.dbName === '') invalid('dbName', 'a non-empty string', options.dbName);
  }

  async open(name: string): Promise<QueueStorage> {
    checkName(name);
    await this.#connection();
    return new IndexedDbQueueStorage(name, this.dbName, () => this.#connection());
  }

  /** The database, opened lazily and again after another tab's upgrade closed it. */
  #connection(): Promise<Database> {
    if (!this.#db) {
      if (!globalThis.indexedDB) {
        throw new SluiceError('ERR_STORAGE', 'IndexedDB is not available here. In Node, import "fake-indexeddb/auto" or use FileStore.');
      }
      const opening = openDatabase(this.dbName, () => {
        if (this.#db === opening) this.#db = undefined;
      });
      this.#db = opening.catch((error: unknown) => {
        this.#db = undefined;
        throw storageError(error, `Cannot open the IndexedDB database "${this.dbName}".`);
      });
    }
    return this.#db;
  }
}

const ALL = ['queues', 'metas', 'segments', 'chunks', 'quarantine'] as const;
type Transaction = IDBPTransaction<SluiceDB, typeof ALL, 'readwrite'>;

class IndexedDbQueueStorage implements QueueStorage {
  readonly owner = randomId();
  readonly #name: string;
  readonly #db: () => Promise<Database>;
  readonly #channel: BroadcastChannel | undefined;
  readonly #releaseOwner: (() => void) | undefined;

  constructor(name: string, dbName: string, db: () => Promise<Database>) {
    this.#name = name;
    this.#db = db;
    this.#channel = globalThis.BroadcastChannel ? new BroadcastChannel(`sluice:${dbName}:${name}`) : undefined;
    // Held for the handle's life: other tabs see it gone (and take its leases back) once this one closes or dies.
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (locks) {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      void locks.request(`sluice-owner:${this.owner}`, () => held).catch(() => undefined);
      this.#releaseOwner = release;
    }
  }

  async load(): Promise<StorageSnapshot> {
    const tx = (await this.#db()).transaction(['queues', 'metas', 'segments'], 'readonly');
    const [version, meta, segments] = await Promise.all([
      tx.objectStore('queues').get(this.#name),
      tx.objectStore('metas').get(this.#name),
      tx.objectStore('segments').getAll(this.#segmentRange()),
    ]);
    return { token: String(version ?? 0), meta, segments: segments.map(({ id, length }) => ({ id, length })) };
  }

  async token(): Promise<string> {
    return String((await (await this.#db()).get('queues', this.#name)) ?? 0);
  }

  async read(segment: number, start: number, end: number): Promise<Uint8Array> {
    const chunks = await (await this.#db()).getAll('chunks', this.#chunkRange(segment));
    const out = new Uint8Array(Math.max(0, end - start));
    let at = 0;
    let filled = 0;
    for (const chunk of chunks) {
      const from = Math.max(start, at);
      const to = Math.min(end, at + chunk.length);
      if (to > from) {
        out.set(chunk.subarray(from - at, to - at), from - start);
        filled = to - start;
      }
      at += chunk.length;
    }
    return filled === out.length ? out : out.subarray(0, filled);
  }

  async commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    const db = await this.#db();
    const tx = db.transaction(ALL, 'readwrite', { durability: batch.durability === 'strict' ? 'strict' : 'relaxed' });
    const work = this.#apply(tx, token, batch).catch((error: unknown) => {
      // A request that threw leaves the others standing: abort so the commit is all or nothing.
      try {
        tx.abort();
      } catch {
        // Already finished or aborted.
      }
      throw error;
    });
    try {
      const result = await work;
      if (result === undefined) {
        // A conflict: the transaction was aborted on purpose, and nothing was written.
        await tx.done.catch(() => undefined);
        return undefined;
      }
      await tx.done;
      this.#channel?.postMessage(result);
      return result;
    } catch (error) {
      tx.done.catch(() => undefined);
      // An aborted transaction's own error (a QuotaExceededError) says more than the AbortError of its requests.
      throw storageError((tx as unknown as { error: unknown }).error ?? error, `The IndexedDB commit to queue "${this.#name}" failed; nothing of it was stored.`);
    }
  }

  async close(): Promise<void> {
    this.#channel?.close();
    this.#releaseOwner?.();
  }

  watch(listener: () => void): () => void {
    const channel = this.#channel;
    if (!channel) return () => undefined;
    const onMessage = () => listener();
    channel.addEventListener('message', onMessage);
    return () => channel.removeEventListener('message', onMessage);
  }

  async isGone(owner: string): Promise<boolean> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks) return false;
    const { held = [] } = await locks.query();
    return !held.some((lock) => lock.name === `sluice-owner:${owner}`);
  }

  /**
   * The commit's requests, issued at once without waiting for the reads: the checks run when the reads come back,
   * and a failed check aborts the transaction, undoing the writes. So an append costs one round trip, as a single
   * put does. It awaits only requests of `tx`, so the transaction stays open until the last one.
   */
  async #apply(tx: Transaction, token: string, batch: StorageBatch): Promise<string | undefined> {
    const name = this.#name;
    const { write, meta, remove = [], quarantine = [] } = batch;
    const version = tx.objectStore('queues').get(name);
    const written = write && tx.objectStore('segments').get([name, write.segment]);
    if (write) this.#append(tx, write);
    if (meta) void tx.objectStore('metas').put(meta.slice(), name);
    for (const id of remove) {
      void tx.objectStore('segments').delete([name, id]);
      void tx.objectStore('chunks').delete(this.#chunkRange(id));
    }
    const next = Number(token) + 1;
    void tx.objectStore('queues').put(next, name);
    if (String((await version) ?? 0) !== token) {
      tx.abort();
      return undefined;
    }
    // Rare: a write before the segment's end cuts a torn tail. Chunks past the cut go (the new one included,
    // put again after), one that straddles it is shortened.
    if (write && ((await written)?.length ?? 0) > write.offset) {
      let cursor = await tx.objectStore('chunks').openCursor(this.#chunkRange(write.segment));
      while (cursor) {
        const at = (cursor.key as [string, number, number])[2];
        if (at >= write.offset) void cursor.delete();
        else if (at + cursor.value.length > write.offset) void cursor.update(cursor.value.slice(0, write.offset - at));
        cursor = await cursor.continue();
      }
      this.#append(tx, write);
    }
    for (const id of quarantine) {
      const range = this.#chunkRange(id);
      const chunks = tx.objectStore('chunks');
      const [keys, values] = await Promise.all([chunks.getAllKeys(range), chunks.getAll(range)]);
      keys.forEach((key, i) => void tx.objectStore('quarantine').put(values[i]!, key));
      void chunks.delete(range);
      void tx.objectStore('segments').delete([name, id]);
    }
    return String(next);
  }

  /** Puts `bytes` as one chunk at `offset`, and the segment's new length. */
  #append(tx: Transaction, { segment, offset, bytes }: NonNullable<StorageBatch['write']>): void {
    if (bytes.length > 0) void tx.objectStore('chunks').put(bytes.slice(), [this.#name, segment, offset]);
    void tx.objectStore('segments').put({ id: segment, length: offset + bytes.length }, [this.#name, segment]);
  }

  #segmentRange(): IDBKeyRange {
    return IDBKeyRange.bound([this.#name, -Infinity], [this.#name, Infinity]);
  }

  #chunkRange(segment: number): IDBKeyRange {
    return IDBKeyRange.bound([this.#name, segment, 0], [this.#name, segment, Infinity]);
  }
}

function storageError(error: unknown, message: string): SluiceError {
  if (error instanceof SluiceError) return error;
  const name = (error as { name?: string } | null)?.name;
  if (name === 'QuotaExceededError') {
    return new SluiceError('ERR_QUOTA_EXCEEDED', `${message} The browser's storage quota for this site is exhausted.`, { cause: error });
  }
  return new SluiceError('ERR_STORAGE', message, { cause: error });
}
