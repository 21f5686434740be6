import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import type { HeldStorage, QueueStorage, SegmentInfo, StorageBatch, StorageSnapshot } from '../../core/store.js';
import { BatchWriter, describeState, sameFiles, sameSegments, tailAfter, type Known } from './batch.js';
import { FileBlobs } from './blobs.js';
import { CommitCounter, type Tail } from './counter.js';
import { Descriptors, fileError } from './descriptors.js';
import { DirIdentity } from './dir-identity.js';
import { type LockTiming, lockChannel } from './diagnostics.js';
import { errno, type FileSync, readRange } from './files.js';
import { Listing } from './listing.js';
import { removeLeftovers } from './leftovers.js';
import type { ProcessLock } from './lock.js';
import { IdleOffer } from './lock-idle.js';
import { fileId, fileTag, ownerName, Owners, thisProcess } from './process-id.js';
import { Spares } from './spare.js';
import { OwnCommits } from './own-commits.js';
import { watchCounter } from './watch.js';

/**
 * One queue's directory as one handle sees it. Every commit and load holds the directory's lock; the commit counter
 * in `commits`, with that file's identity, is the token, so `token()` is one read and a commit by any process
 * changes it.
 *
 * Files may also change outside any commit: an operator or a temp cleaner removes `commits`, `meta` or a segment,
 * a disk cuts one short. The handle remembers which files it saw or made (device, inode, size) as of the last
 * commit it knows of; when, under the lock, they are not what it remembers, it commits nothing, bumps the counter so
 * that every handle reads the directory again, and reports what is there now.
 */
export class FileQueueStorage implements QueueStorage {
  readonly owner: string;
  /** Side files in `blobs/`, beside the segments. */
  readonly blobs: FileBlobs;
  readonly #dir: string;
  /** Whether the directory is still the one opened (see `DirIdentity`). */
  readonly #here: DirIdentity;
  readonly #owners: Owners;
  readonly #lock: ProcessLock;
  readonly #counter: CommitCounter;
  readonly #fds: Descriptors;
  readonly #spares: Spares;
  readonly #writer: BatchWriter;
  readonly #listing: Listing;
  /** The token as of which `#known` describes the directory. */
  #seen = '';
  /** This handle's own recent commits: no news to its watchers. */
  readonly #mine = new OwnCommits();
  /** The files this handle saw or made, as of commit `#seen`; undefined when it does not know them. */
  #known: Known | undefined;
  readonly #unwatch = new Set<() => void>();
  #failed: SluiceError | undefined;

  /** Files are made with `mode` (see `FileStoreOptions.mode`). */
  constructor(dir: string, lock: ProcessLock, sync: FileSync, mode: number) {
    const me = thisProcess();
    this.#owners = new Owners(me);
    const tag = fileTag(me);
    this.owner = ownerName(me, randomBytes(6).toString('hex'));
    this.#dir = dir;
    this.#here = new DirIdentity(dir);
    this.#lock = lock;
    this.#counter = new CommitCounter(join(dir, 'commits'), mode, () => join(dir, `commits.${fileId(tag)}.tmp`));
    this.#spares = new Spares(dir, tag, mode);
    this.#fds = new Descriptors(dir, this.#spares, mode);
    this.#writer = new BatchWriter(dir, tag, this.#fds, sync, mode);
    this.blobs = new FileBlobs(dir, sync, mode, this.#here);
    this.#listing = new Listing(dir);
  }

  /** Removes temp and lock files that writers which died left behind. */
  async cleanUp(): Promise<void> {
    await this.#locked(() => {
      removeLeftovers(this.#dir);
      IdleOffer.removeStale(this.#dir);
    });
  }

  /** This storage as `exclusive` hands it over: the lock is already held. */
  readonly #held: HeldStorage = {
    load: () => this.#guarded(() => this.#load()),
    commit: (token, batch) => this.#guarded(() => this.#commit(token, batch)),
  };

  /** Runs `fn` holding the lock: the Queue commits under it, and reads and plans again under it when its view is stale. */
  exclusive<R>(fn: (held: HeldStorage) => Promise<R>): Promise<R> {
    return this.#locked(() => fn(this.#held), undefined, false);
  }

  load(): Promise<StorageSnapshot> {
    // Under the lock, so the snapshot never mixes two commits.
    return this.#locked(() => this.#load());
  }

  #load(): StorageSnapshot {
    const { fresh } = this.#current();
    const files: Known = new Map();
    const read = this.#writer.readMeta();
    if (read) files.set('meta', describeState(read.state));
    const segments: SegmentInfo[] = [];
    // A view that was current is checked file by file against what the handle knew; a stale one is brought up to
    // date, which needs a full listing only when a commit made or removed a segment since the last.
    for (const { id, name, state } of this.#listing.list(this.#counter.listed(), fresh)) {
      segments.push({ id, length: state.size });
      files.set(name, describeState(state));
    }
    // What this handle knew changed outside any commit: every other handle must read the directory again too.
    if (fresh && !sameFiles(files, this.#known!)) this.#bump();
    this.#known = files;
    const tail = this.#counter.tail();
    return { token: this.#counter.held(), meta: read?.bytes, segments, ...(tail && { tail }) };
  }

  async token(): Promise<string> {
    // Content that is not whole (a torn read, damage) is never current: the caller loads, which repairs it.
    return this.#guarded(() => {
      // The descriptor reads a counter deleted with its directory as ever: a consumer woken by the notice learns it here.
      this.#lost(this.#here.doubted());
      return this.#counter.token() ?? 'unreadable';
    });
  }

  async read(segment: number, start: number, end: number): Promise<Uint8Array> {
    return this.#guarded(() => {
      const fd = this.#fds.get(segment);
      const bytes = fd === undefined ? new Uint8Array(0) : readRange(fd, start, end);
      // Shorter than the listing said: the segment was cut or removed, and the listing is to be made again.
      if (bytes.length < end - start) this.#listing.forget();
      return bytes;
    });
  }

  commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    // A stale view is read again and the commit made again at once: the lock is kept for them (see `keep`).
    return this.#locked(() => this.#commit(token, batch), (token) => token === undefined);
  }

  async #commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    // Spare files from the first commit on, not from open: a handle that only reads (a tool inspecting the queue)
    // leaves no file behind. The first new segment is created in its commit instead, once per handle.
    this.#spares.prepare();
    const now = this.#current();
    if (now.token !== token) return undefined;
    const looked = this.#writer.look(batch);
    const known = now.fresh ? this.#known : undefined;
    const moved = known && looked.some(({ name, state }) => known.get(name) !== (state && describeState(state)));
    if (moved || !this.#writer.fits(batch, looked)) {
      // Planned on files that changed outside any commit: nothing is written, and every handle reads again.
      this.#known = undefined;
      this.#bump();
      return undefined;
    }
    const tail = tailAfter(this.#counter.tail(), batch);
    try {
      // The newest segment is recorded before any segment is removed: a process killed between must not leave a
      // record of a segment that was freed on purpose (a reader would take it for one lost).
      await this.#writer.apply(batch, looked, known, (sync) => this.#synced(sync), { counter: this.#counter, tail: tail ?? undefined });
    } catch (error) {
      this.#known = undefined;
      // Bumped even so, for every handle to read the directory again. A bump failing too (a full disk) must not hide
      // the first error, nor a failed fsync's (see `#synced`); each handle's look at its files backs the counter up.
      try {
        this.#mine.add(token, this.#bump());
      } catch {}
      throw this.#failed ?? error;
    }
    // With the newest segment's length (the batch went in whole), for a reader to tell bytes lost later. The commit is
    // in: a bump that fails now (a full disk) only leaves the others untold, and their look at the files under the
    // lock finds the change all the same. Rejecting would leave stored a push its caller was told failed.
    try {
      return this.#mine.add(token, this.#bump(tail, sameSegments(batch, looked)));
    } catch {
      this.#known = undefined;
    }
    return this.#mine.last;
  }

  /** Calls `listener` soon after another handle's commit (see `watchCounter`), and once when this handle fails for good (a waiting consumer then meets why). */
  watch(listener: () => void): () => void {
    const unwatch = watchCounter(
      join(this.#dir, 'commits'),
      () => (this.#failed ? (this.#failed.code === 'ERR_CLOSED' ? undefined : 'failed') : this.#counter.token() ?? 'unreadable'),
      (token, from) => this.#mine.only(from, token),
      () => (this.#here.doubt(), listener()),
    );
    const stop = () => {
      unwatch();
      this.#unwatch.delete(stop);
    };
    this.#unwatch.add(stop);
    return stop;
  }

  async close(): Promise<void> {
    if (this.#failed?.code === 'ERR_CLOSED') return;
    for (const stop of [...this.#unwatch]) stop();
    this.#failed = new SluiceError('ERR_CLOSED', `The storage of ${this.#dir} was closed.`);
    this.#counter.close();
    this.#fds.forgetAll();
    this.#writer.forgetMeta();
    // Best effort: a directory that refuses changes (read-only, gone) keeps this handle's lock content and spare
    // files, which are cleared once this process is gone; closing releases the descriptors whatever happens.
    try {
      this.#lock.dispose();
    } catch {
      // Left for the clearing of leftovers.
    }
    await this.#spares.dispose();
  }

  isGone(owner: string): boolean {
    return this.#owners.isGone(owner);
  }

  /**
   * Under the lock: the counter as the directory holds it now, and whether `#known` still describes the
   * directory (nobody committed since, and the counter was not removed or damaged).
   */
  #current(): { token: string; fresh: boolean } {
    // A counter that is not the one the handle knew may be that of a directory made again: nothing is read or made there.
    const { changed } = this.#counter.verify(this.#mustBeHere);
    const token = this.#counter.held();
    const fresh = !changed && token === this.#seen && this.#known !== undefined;
    if (!fresh) this.#known = undefined;
    this.#seen = token;
    return { token, fresh };
  }

  /**
   * Counts a commit (this handle's, or a change found outside any commit): every other view is stale. `same` when it
   * made and removed no segment file.
   */
  #bump(tail: Tail | null = this.#counter.tail(), same = false): string {
    this.#counter.bump(tail ?? undefined, same);
    return (this.#seen = this.#counter.held());
  }

  /** Throws 'ERR_NOT_FOUND', for good, once the queue's directory was deleted under the handle (`gone`). */
  #lost(gone: SluiceError | undefined): void {
    if (gone) throw (this.#failed ??= gone);
  }
  readonly #mustBeHere = () => this.#lost(this.#here.gone());

  /** An fsync that fails is fatal for the handle: what reached the disk is unknown, and retrying would lie. */
  async #synced(sync: () => Promise<void>): Promise<void> {
    try {
      await sync();
    } catch (error) {
      this.#failed = new SluiceError('ERR_STORAGE', `fsync failed in ${this.#dir} (${errno(error) || 'error'}); this handle is unusable, open the queue again.`, { cause: error });
      throw this.#failed;
    }
  }

  /**
   * Runs `fn` holding the lock; given up after, or kept to the end of the task (see `ProcessLock.keep`) when `keep`
   * says so of the result, or when it was kept for this call (a load after a stale commit: for the commit after it).
   * What `fn` throws is taken for a file system error unless `guard` is false (`fn` guards its own calls).
   */
  async #locked<R>(fn: () => R | Promise<R>, keep?: (result: R) => boolean, guard = true): Promise<R> {
    const timing = lockChannel();
    const asked = timing.hasSubscribers ? performance.now() : undefined;
    const how = await this.#guarded(() => this.#lock.acquire());
    const taken = asked === undefined ? 0 : performance.now();
    let result: R;
    let kept = false;
    try {
      // A holder that died mid-commit left changes behind without bumping the counter: make every view stale.
      if (how === 'stolen') {
        await this.#guarded(() => {
          this.#counter.verify(this.#mustBeHere);
          this.#bump();
        });
      }
      result = await (guard ? this.#guarded(fn) : fn());
      kept = (keep ? keep(result) : how === 'kept') && !this.#failed;
    } finally {
      // Released even by a handle that has just failed (not left to others' stale check). One refused (a read-only dir)
      // undoes nothing: `fn`'s answer stands (an ack said failed was committed), and the lock goes at the next call.
      await this.#translated(() => (kept ? this.#lock.keep() : this.#lock.release())).catch(() => undefined);
      if (asked !== undefined) timing.publish({ dir: this.#dir, waitMs: taken - asked, holdMs: performance.now() - taken } satisfies LockTiming);
    }
    return result;
  }

  /** Runs `fn` on a usable handle, turning file system errors into SluiceErrors. */
  async #guarded<R>(fn: () => R | Promise<R>): Promise<R> {
    if (this.#failed) throw this.#failed;
    return this.#translated(fn);
  }

  async #translated<R>(fn: () => R | Promise<R>): Promise<R> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      this.#lost(this.#here.explain(error));
      throw fileError(error, this.#dir, `File storage failed in ${this.#dir}.`);
    }
  }
}
