import { unwrap, type StoreNames } from 'idb';
import { concat } from '../../core/encode.js';
import { randomId } from '../../core/ids.js';
import { storageError } from '../../core/storage-errors.js';
import type { QueueStorage, StorageBatch, StorageSnapshot } from '../../core/store.js';
import type { Database, Head, SluiceDB } from './schema.js';

/**
 * What this handle knows is stored as of `version`: every segment's length. Kept exact by `load` and `commit`, and
 * good only on the connection it was read through: a database deleted and made again under it starts over.
 */
interface Known {
  readonly db: Database;
  readonly version: number;
  readonly tail: Head['tail'];
  readonly lengths: ReadonlyMap<number, number>;
  /** The metadata's length: an append before its end must cut what lies past (a write at an earlier offset). */
  readonly metaLength: number;
}

/** One queue's storage in an IndexedDbStore's database, as opened by one handle. */
export class IndexedDbQueueStorage implements QueueStorage {
  readonly owner = randomId();
  readonly #name: string;
  readonly #db: () => Promise<Database>;
  readonly #channel: BroadcastChannel | undefined;
  readonly #releaseOwner: (() => void) | undefined;
  #known: Known | undefined;

  constructor(name: string, dbName: string, db: () => Promise<Database>) {
    this.#name = name;
    this.#db = db;
    this.#channel = globalThis.BroadcastChannel ? new BroadcastChannel(`sluice:${dbName}:${name}`) : undefined;
    // Held for the handle's life: other tabs see it gone (and take its leases back) once this one closes or dies.
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (locks) {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      void locks.request(ownerLock(this.owner), () => held).catch(() => undefined);
      this.#releaseOwner = release;
    }
  }

  async load(): Promise<StorageSnapshot> {
    const db = await this.#db();
    const tx = db.transaction(['heads', 'meta', 'segments', 'chunks'], 'readonly');
    const [head, whole, appended, stored] = await Promise.all([
      tx.objectStore('heads').index('queue').get(this.#name),
      tx.objectStore('meta').get(this.#name),
      tx.objectStore('chunks').getAll(this.#chunks(META, 0)),
      tx.objectStore('segments').getAll(IDBKeyRange.bound([this.#name, 0], [this.#name, Infinity])),
    ]);
    const meta = whole && appended.length > 0 ? concat([whole, ...appended]) : whole;
    const lengths = new Map(stored.map(({ id, length }) => [id, length]));
    if (head?.tail) lengths.set(head.tail.id, head.tail.length);
    this.#known = { db, version: head?.version ?? 0, tail: head?.tail, lengths, metaLength: meta?.length ?? 0 };
    const segments = [...lengths].map(([id, length]) => ({ id, length })).sort((a, b) => a.id - b.id);
    return { token: String(this.#known.version), meta, segments };
  }

  async token(): Promise<string> {
    const head = await (await this.#db()).getFromIndex('heads', 'queue', this.#name);
    return String(head?.version ?? 0);
  }

  async read(segment: number, start: number, end: number): Promise<Uint8Array> {
    const chunks = await (await this.#db()).getAll('chunks', this.#chunks(segment, 0));
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

  /**
   * One readwrite transaction, planned from what this handle knows is stored at `token`: every request is issued
   * at once and the transaction is committed straight away, with no read to wait for. When another handle
   * committed first, replacing the head breaks its unique index and the transaction aborts, writing nothing.
   * Requests go through the bare IndexedDB API here, not idb's promises: a push is this path, and a promise per
   * request (each rejecting, unhandled, when the transaction aborts) was a third of its time.
   */
  async commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    const version = Number(token);
    if (!Number.isSafeInteger(version)) return undefined;
    // A token this handle has not seen the state of, a state it stopped tracking after a failure, or a connection
    // opened since (another tab deleted the database): look first, since the blind writes below trust `known`.
    const current = await this.#db();
    if ((this.#known?.version !== version || this.#known.db !== current) && (await this.load()).token !== token) return undefined;
    const known = this.#known!;
    let tx: IDBTransaction;
    try {
      tx = unwrap(known.db).transaction(scope(batch, known), 'readwrite', { durability: batch.durability === 'strict' ? 'strict' : 'relaxed' });
    } catch (error) {
      // The connection closed since (another tab's upgrade): the next call opens again.
      this.#known = undefined;
      throw storageError(error, this.#failed());
    }
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      // The first failing request's error (ConstraintError, QuotaExceededError) says more than the abort after it.
      tx.onerror = (event) => reject((event.target as IDBRequest | null)?.error ?? tx.error);
      tx.onabort = () => reject(tx.error ?? new DOMException('The transaction was aborted.', 'AbortError'));
    });
    let next: Known;
    try {
      const { known: planned, reads } = this.#issue(tx, known, batch);
      next = planned;
      // Only cuts and quarantines read inside the transaction; otherwise nothing is left to wait for.
      if (!reads) tx.commit();
    } catch (error) {
      // A request that threw (quota, a bad value) leaves the others standing: abort so the commit is all or nothing.
      abort(tx);
      void done.catch(() => undefined);
      this.#known = undefined;
      throw storageError(error, this.#failed());
    }
    try {
      await done;
    } catch (error) {
      if ((error as { name?: string } | null)?.name === 'ConstraintError') return undefined;
      this.#known = undefined;
      throw storageError(error, this.#failed());
    }
    this.#known = next;
    this.#channel?.postMessage(next.version);
    return String(next.version);
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
    const { held = [], pending = [] } = await locks.query();
    return ![...held, ...pending].some((lock) => lock.name === ownerLock(owner));
  }

  /**
   * Issues the batch's writes in the contract's order and says what will be stored once they commit, and whether
   * some request reads first (a cut or a quarantine), so that the transaction must not be committed at once.
   */
  #issue(tx: IDBTransaction, known: Known, batch: StorageBatch): { known: Known; reads: boolean } {
    const name = this.#name;
    const { write, meta, metaAppend, remove = [], quarantine = [] } = batch;
    // Object stores are taken when used: the transaction's scope holds only those this batch needs.
    const chunks = () => tx.objectStore('chunks');
    const segments = () => tx.objectStore('segments');
    const lengths = new Map(known.lengths);
    let tail = known.tail;
    let metaLength = known.metaLength;
    let reads = false;
    if (write) {
      const { segment, offset, bytes } = write;
      if ((lengths.get(segment) ?? 0) > offset) reads = this.#cut(chunks(), segment, offset);
      if (bytes.length > 0) chunks().put(bytes.slice(), [name, segment, offset]);
      const length = offset + bytes.length;
      if (tail?.id !== segment) {
        // The write moves to another segment: the old tail's length goes to `segments`, where the new one is listed.
        if (tail) segments().put({ ...tail }, [name, tail.id]);
        segments().put({ id: segment, length }, [name, segment]);
      }
      tail = { id: segment, length };
      lengths.set(segment, length);
    }
    if (meta) {
      tx.objectStore('meta').put(meta.slice(), name);
      chunks().delete(this.#chunks(META, 0));
      metaLength = meta.length;
    }
    if (metaAppend) {
      const { offset, bytes } = metaAppend;
      if (metaLength > offset) reads = this.#cut(chunks(), META, offset) || reads;
      if (bytes.length > 0) chunks().put(bytes.slice(), [name, META, offset]);
      metaLength = offset + bytes.length;
    }
    for (const id of quarantine) {
      const keys = chunks().getAllKeys(this.#chunks(id, 0));
      const values = chunks().getAll(this.#chunks(id, 0));
      values.onsuccess = () => keys.result.forEach((key, i) => tx.objectStore('quarantine').put(values.result[i], key));
      reads = true;
    }
    // Deleted after the reads above: the requests of one transaction run in the order they were made.
    for (const id of [...remove, ...quarantine]) {
      segments().delete([name, id]);
      chunks().delete(this.#chunks(id, 0));
      lengths.delete(id);
      if (tail?.id === id) tail = undefined;
    }
    // Replacing the head last: when another handle committed first, this add aborts everything above.
    const heads = tx.objectStore('heads');
    heads.delete([name, known.version]);
    const version = known.version + 1;
    const head: Head = tail ? { queue: name, version, tail } : { queue: name, version };
    heads.add(head, [name, version]);
    return { known: { db: known.db, version, tail, lengths, metaLength }, reads };
  }

  /**
   * Cuts a segment back to `offset` (the Queue dropping a torn tail): chunks past it go, and the last one starting
   * before it, the only one that can reach across, is shortened. True when that needs a read.
   */
  #cut(chunks: IDBObjectStore, segment: number, offset: number): boolean {
    chunks.delete(this.#chunks(segment, offset));
    if (offset === 0) return false;
    const cursor = chunks.openCursor(IDBKeyRange.bound([this.#name, segment, 0], [this.#name, segment, offset], false, true), 'prev');
    cursor.onsuccess = () => {
      const found = cursor.result;
      const at = (found?.primaryKey as [string, number, number] | undefined)?.[2] ?? 0;
      const bytes = found?.value as Uint8Array | undefined;
      if (found && bytes && at + bytes.length > offset) found.update(bytes.slice(0, offset - at));
    };
    return true;
  }

  #failed(): string {
    return `The IndexedDB commit to queue "${this.#name}" failed; nothing of it was stored.`;
  }

  #chunks(segment: number, from: number): IDBKeyRange {
    return IDBKeyRange.bound([this.#name, segment, from], [this.#name, segment, Infinity]);
  }
}

/** The object stores a commit touches: each one more in a transaction's scope costs a push measurable time. */
function scope(batch: StorageBatch, known: Known): StoreNames<SluiceDB>[] {
  const { write, meta, metaAppend, remove = [], quarantine = [] } = batch;
  const names: StoreNames<SluiceDB>[] = ['heads'];
  const dropping = remove.length > 0 || quarantine.length > 0;
  if (write || dropping || meta || metaAppend) names.push('chunks');
  if ((write && write.segment !== known.tail?.id) || dropping) names.push('segments');
  if (meta) names.push('meta');
  if (quarantine.length > 0) names.push('quarantine');
  return names;
}

const ownerLock = (owner: string) => `sluice-owner:${owner}`;

/**
 * What was appended to a queue's metadata lives in `chunks` under this segment id, which no segment has (theirs are
 * never negative): an append is one small record, and the blob in `meta` is rewritten only when replaced whole.
 */
const META = -1;

function abort(tx: IDBTransaction): void {
  try {
    tx.abort();
  } catch {
    // Already finished or aborted.
  }
}
