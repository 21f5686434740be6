import { concat } from '../../core/encode.js';
import { randomId } from '../../core/ids.js';
import { storageError } from '../../core/storage-errors.js';
import type { QueueStorage, StorageBatch, StorageSnapshot } from '../../core/store.js';
import { QueueChannel } from './channel.js';
import { Owners } from './owners.js';
import { onRestore } from './page-restore.js';
import type { Connection } from './connection.js';
import { assemble, chunksIn, reach, stamped } from './chunks.js';
import { abort, chunksOf, completion, recordsOf, refusedAfterQuota, result, settle } from './requests.js';
import type { SegmentRecord } from './schema.js';
import { WriterLock, type Locks } from './writer-lock.js';
import { appendsOnly, headOf, issue, META, scope, type Known } from './writes.js';

/**
 * One queue's storage in an IndexedDbStore's database, as opened by one handle.
 *
 * Who commits how:
 * - With Web Locks (and BroadcastChannel), a handle commits only while it holds the queue's writer lock
 *   (`WriterLock`). Having taken it, it checks once that the stored token is still the one it knows; from then
 *   on nobody else commits, so a commit is planned from what it knows and written blind, and a push appending to
 *   the tail is one put in one transaction. Another handle that wants to commit asks for the lock over the
 *   channel and gets it as soon as the holder's running commit ends. A holder that dies loses the lock with its
 *   context; a transaction it had in flight committed whole or not at all, and the next holder reads what is there.
 * - Without them (fake-indexeddb in Node, old browsers), every commit replaces the queue's head record under a
 *   unique index, so a commit made on a stale view aborts whole and resolves `undefined`.
 * Both keep to one token (`tokenOf`), read from the store by `token()` unless this handle holds the lock.
 */
export class IndexedDbQueueStorage implements QueueStorage {
  readonly owner = randomId();
  /** Its watchers hear a handle asked about go (see `Owners`). */
  readonly tellsGone = true;
  readonly #name: string;
  readonly #connection: Connection;
  readonly #channel: QueueChannel;
  readonly #lock: WriterLock | undefined;
  readonly #owners: Owners | undefined;
  readonly #listeners = new Set<() => void>();
  #known: Known | undefined;
  /** The lock's tenure under which `known` was read or checked: it is exact while that tenure lasts. */
  #tenure = -1;
  #readFailed = false;
  /** A commit was refused with an InvalidStateError and is being tried again (see `commit`). */
  #refused = false;
  /** Appends under the writer lock moved the tail on past what the head records: recorded when the lock goes. */
  #unrecorded = false;
  /** Segments a read found short of their listing: loads check their chunks (others' records are trusted, unread). */
  readonly #short = new Set<number>();
  /** Tells the store this handle closed, once (see `IndexedDbStore`). */
  #closed: (() => void) | undefined;
  readonly #unrestore: (() => void) | undefined;

  constructor(name: string, dbName: string, connection: Connection, locks: Locks | undefined, closed?: () => void, lockWaitMs = Infinity) {
    this.#name = name;
    this.#connection = connection;
    this.#closed = closed;
    // Other tabs see this handle gone (taking its leases back) once it closes or dies; it hears theirs go (Owners).
    const owners = (this.#owners = locks && new Owners(locks, this.owner, () => this.#listeners.forEach((listener) => listener())));
    const channel = (this.#channel = new QueueChannel(`sluice:${dbName}:${name}`, owners && this.owner));
    channel.onPeer((owner) => owners?.watch(owner));
    if (locks && channel.present) {
      const lock = new WriterLock(locks, `sluice-writer:${dbName}:${name}`, channel.ask, this.#record, lockWaitMs);
      channel.onAsk(() => lock.asked());
      this.#lock = lock;
    }
    this.#unrestore = onRestore([this.#lock, owners, channel]);
    // No BroadcastChannel (Safari before 15.4): nothing tells of other tabs' commits, so no `watch`, and the Queue polls.
    if (!channel.present) Object.defineProperty(this, 'watch', { value: undefined });
  }

  load(): Promise<StorageSnapshot> {
    return this.#reading(this.#load());
  }

  async token(): Promise<string> {
    const connection = this.#open();
    return this.#exact() ? this.#known!.token : this.#reading(this.#stored(connection));
  }

  read(segment: number, start: number, end: number): Promise<Uint8Array> {
    return this.#reading(this.#read(segment, start, end)).catch((error: unknown) => {
      // The Queue adopts a load's token before it reads the tail's new bytes; when that read fails, its view of
      // the tail is short of what is stored, and a push planned on it would write over another handle's items.
      // The next commit is refused as stale, so the Queue reads again before it writes.
      this.#readFailed = true;
      throw error;
    });
  }

  async #load(): Promise<StorageSnapshot> {
    const connection = this.#open();
    const lock = this.#lock;
    const tenure = lock?.held ? lock.tenure : -1;
    const name = this.#name;
    const tx = connection.db.transaction(['heads', 'meta', 'segments', 'chunks'], 'readonly');
    const short = [...this.#short];
    const reads = Promise.all([
      stamped(tx, name, true),
      result<Uint8Array | undefined>(tx.objectStore('meta').get(name)),
      result<Uint8Array[]>(tx.objectStore('chunks').getAll(chunksOf(name, META))),
      result<SegmentRecord[]>(tx.objectStore('segments').getAll(recordsOf(name))),
      Promise.all(short.map((id) => chunksIn(tx, name, id))),
    ]);
    settle(tx);
    const [stamp, whole, appended, records, checked] = await reads;
    const meta = appended.length > 0 ? concat(whole ? [whole, ...appended] : appended) : whole;
    const lengths = new Map(records.map(({ id, length }) => [id, length]));
    const { last, recorded, ...token } = stamp;
    // The tail is the newest segment with a record, or with chunks: chunks past every record (their records removed
    // under the queue) are the tail's, or the appends to the tail would not move the token on.
    const newest = records[records.length - 1]?.id;
    const tail = token.data && (newest === undefined || token.data[0] > newest) ? token.data[0] : newest;
    // The tail's record may lag behind it (a push is one put into `chunks`): its last chunk tells its length.
    if (tail !== undefined) lengths.set(tail, token.data?.[0] === tail ? token.data[1] + (last as IDBCursorWithValue).value.length : 0);
    // Segments read short are listed as far as their chunks reach (the Queue then reports what is missing). What the
    // handle knows keeps the length the records tell, so that a write below it cuts the chunks past it.
    const listed = new Map(lengths);
    short.forEach((id, i) => {
      const held = reach(...checked[i]!);
      const length = lengths.get(id);
      if (length !== undefined && held < length) listed.set(id, held);
      else this.#short.delete(id);
    });
    this.#known = { connection, ...token, lengths, tail, metaLength: meta?.length ?? 0 };
    // Read under the writer lock, held throughout: exact for as long as the lock stays held.
    if (tenure >= 0 && lock!.held && lock!.tenure === tenure) this.#tenure = tenure;
    const segments = [...listed].map(([id, length]) => ({ id, length })).sort((a, b) => a.id - b.id);
    return { token: stamp.token, meta, segments, ...(recorded && { tail: { id: recorded.id, length: recorded.length } }) };
  }

  /** The token as stored (see `tokenOf`). */
  async #stored(connection: Connection): Promise<string> {
    const tx = connection.db.transaction(['heads', 'chunks'], 'readonly');
    const read = stamped(tx, this.#name, false);
    settle(tx);
    return (await read).token;
  }

  async #read(segment: number, start: number, end: number): Promise<Uint8Array> {
    const tx = this.#open().db.transaction('chunks', 'readonly');
    const read = chunksIn(tx, this.#name, segment);
    settle(tx);
    const bytes = assemble(...(await read), start, end);
    // Short of what the listing said: removed or cut by another handle, or its chunks removed under the queue while
    // its record stayed. The next loads look at its chunks, not only at its record.
    if (bytes.length < end - start) this.#short.add(segment);
    return bytes;
  }

  /**
   * One readwrite transaction, planned from what this handle knows is stored at `token`: every request is issued at
   * once and the transaction committed straight away, with no read to wait for (see the class for who may).
   */
  async commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    const connection = this.#open();
    if (this.#readFailed) {
      this.#readFailed = false;
      return undefined;
    }
    const lock = this.#lock;
    if (lock) {
      // Awaited only when not held: a push under the lock waits for nothing but its transaction.
      if (!lock.enter()) await lock.acquire().catch((error: unknown) => (lock.done(false), Promise.reject(error)));
      if (!this.#exact()) {
        // Newly taken: is what this handle knows still what is stored?
        let stored: string;
        try {
          stored = await this.#stored(connection);
        } catch (error) {
          lock.done(false);
          throw storageError(this.#connection.lost ?? error, this.#failed());
        }
        // Not if the lock was stolen meanwhile: another handle may have committed since the read.
        if (lock.held && stored === this.#known?.token && this.#known.connection === connection) this.#tenure = lock.tenure;
        else this.#known = undefined;
      }
      if (token !== this.#known?.token) {
        lock.done(false);
        return undefined;
      }
    } else if (this.#known?.token !== token || this.#known.connection !== connection) {
      // A token whose state this handle has not seen, or stopped tracking after a failure: look first (see `known`).
      if ((await this.load()).token !== token) return undefined;
    }
    const known = this.#known!;
    const appends = lock !== undefined && appendsOnly(known, batch);
    let next: () => Known;
    let tx: IDBTransaction | undefined;
    let done: Promise<void> | undefined;
    try {
      tx = connection.db.transaction(scope(known, batch, appends), 'readwrite', { durability: batch.durability === 'strict' ? 'strict' : 'relaxed' });
      const issued = issue(tx, this.#name, known, batch, appends);
      next = issued.next;
      // Only cuts and quarantines read inside the transaction. Not without the writer lock: Firefox commits a transaction
      // asked to early though its guard (the head's unique key) fails after, and a stale tab's write went over a push.
      if (!issued.reads && lock) settle(tx);
      // Listened for only now: a transaction's events come in later tasks, so none is missed, and setting the
      // handlers up (tens of µs in Firefox) runs while the engine commits instead of before it starts.
      done = completion(tx);
      await done;
    } catch (error) {
      // A request that threw (quota, a bad value) leaves the others standing: abort, so the commit is all or nothing.
      if (tx) abort(tx);
      void done?.catch(() => undefined);
      this.#known = undefined;
      lock?.done(false);
      if ((error as { name?: string } | null)?.name === 'ConstraintError') return undefined;
      if (refusedAfterQuota(error) && !this.#refused && !this.#connection.lost) {
        this.#refused = true;
        return undefined;
      }
      this.#refused = false;
      throw storageError(this.#connection.lost ?? error, this.#failed());
    }
    this.#refused = false;
    const now = (this.#known = next());
    // A commit that replaced the head recorded the tail in it; appends leave that to the lock's release.
    this.#unrecorded = appends ? this.#unrecorded || batch.write !== undefined : false;
    this.#channel.committed();
    lock?.done(true);
    return now.token;
  }

  async close(): Promise<void> {
    // After the lock: as it goes it records the tail, in a transaction of its own on the connection.
    await this.#lock?.close();
    this.#unrestore?.();
    this.#channel.close();
    this.#owners?.close();
    this.#closed?.();
    this.#closed = undefined;
  }

  watch(listener: () => void): () => void {
    const unwatch = this.#channel.watch(listener);
    // Also woken when another handle goes (see Owners), and when the database goes away under it (to hear why).
    this.#listeners.add(listener);
    const { db } = this.#connection;
    db.addEventListener('versionchange', listener);
    db.addEventListener('close', listener);
    return () => {
      unwatch();
      this.#listeners.delete(listener);
      db.removeEventListener('versionchange', listener);
      db.removeEventListener('close', listener);
    };
  }

  async isGone(owner: string): Promise<boolean> {
    return (await this.#owners?.isGone(owner)) ?? false;
  }

  /**
   * Run as the writer lock goes, still holding it: records in the head the tail that appends under it moved on, so that
   * their chunks, removed under the queue later, are reported missing (see `Head.tail`). Not in every push's
   * transaction: a push stays one put. Best effort: chunks removed before this ran, by the same accident that ended
   * this handle before it could, go reported as far as the head recorded them.
   */
  readonly #record = async (): Promise<void> => {
    const known = this.#known;
    if (!this.#unrecorded || !known || this.#connection.lost) return;
    this.#unrecorded = false;
    try {
      const tx = known.connection.db.transaction('heads', 'readwrite', { durability: 'relaxed' });
      // Under the head's key as the handle knows it: had another handle replaced the head, the put would break the
      // unique index and write nothing.
      tx.objectStore('heads').put(headOf(this.#name, known.version, known.tail, known.lengths), [this.#name, known.version]);
      settle(tx);
      await completion(tx);
    } catch {
      // Left as the last commit that replaced the head recorded it: never more than was there.
    }
  };

  /** `reading`, its failure as a SluiceError. */
  #reading<T>(reading: Promise<T>): Promise<T> {
    return reading.catch((error: unknown) => {
      throw storageError(this.#connection.lost ?? error, `Cannot read queue "${this.#name}" from IndexedDB.`);
    });
  }

  /** The connection, or why it can no longer be used. */
  #open(): Connection {
    const connection = this.#connection;
    if (connection.lost) {
      this.#lock?.release();
      throw connection.lost;
    }
    return connection;
  }

  /** True while `known` is exact: read or checked under the writer lock, which has stayed held since. */
  #exact(): boolean {
    return this.#known !== undefined && this.#lock?.held === true && this.#lock.tenure === this.#tenure;
  }

  #failed(): string {
    return `The IndexedDB commit to queue "${this.#name}" failed; nothing of it was stored.`;
  }
}
