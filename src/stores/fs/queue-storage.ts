import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import type { QueueStorage, SegmentInfo, StorageBatch, StorageSnapshot } from '../../core/store.js';
import { Descriptors } from './descriptors.js';
import { closeQuiet, CommitCounter, errno, type FileSync, readRange, segmentFile, segmentId, syncDir, unlinkQuiet, writeAll } from './files.js';
import { removeLeftovers } from './leftovers.js';
import type { ProcessLock } from './lock.js';
import { fileTag, isDead, ownerName, parseOwner, thisProcess } from './process-id.js';
import { Spares } from './spare.js';
import { watchCounter } from './watch.js';

/**
 * One queue's directory as one handle sees it. Every commit and load holds the directory's lock; the commit counter
 * in `commits` is the token, so `token()` is one read and a commit by any process changes it.
 */
export class FileQueueStorage implements QueueStorage {
  readonly owner: string;
  /** Names this process in the names of the files it makes (see `fileTag`). */
  readonly #tag: string;
  readonly #dir: string;
  readonly #lock: ProcessLock;
  readonly #sync: FileSync;
  readonly #counter: CommitCounter;
  readonly #fds: Descriptors;
  readonly #spares: Spares;
  /** The commit count as of which `#fds` is known to name the current files. */
  #seen = -1;
  /** The commit count this handle's own last commit made. */
  #mine = -1;
  /** The open `meta` file, for appends; dropped when it may have been replaced (a rename makes a new inode). */
  #metaFd: number | undefined;
  readonly #unwatch = new Set<() => void>();
  #failed: SluiceError | undefined;

  constructor(dir: string, lock: ProcessLock, sync: FileSync) {
    const me = thisProcess();
    this.owner = ownerName(me, randomBytes(6).toString('hex'));
    this.#tag = fileTag(me);
    this.#dir = dir;
    this.#lock = lock;
    this.#sync = sync;
    this.#counter = new CommitCounter(join(dir, 'commits'));
    this.#spares = new Spares(dir, this.#tag);
    this.#fds = new Descriptors(dir, this.#spares);
    this.#spares.prepare();
  }

  /** Removes temp and lock files that writers which died left behind. */
  async cleanUp(): Promise<void> {
    await this.#locked(() => removeLeftovers(this.#dir));
  }

  async load(): Promise<StorageSnapshot> {
    // Under the lock, so the snapshot never mixes two commits.
    return this.#locked(() => {
      const count = this.#current();
      let meta: Uint8Array | undefined;
      try {
        meta = new Uint8Array(readFileSync(join(this.#dir, 'meta')));
      } catch (error) {
        if (errno(error) !== 'ENOENT') throw error;
      }
      const segments: SegmentInfo[] = [];
      for (const name of readdirSync(this.#dir)) {
        const id = segmentId(name);
        if (id !== undefined) segments.push({ id, length: statSync(join(this.#dir, name)).size });
      }
      segments.sort((a, b) => a.id - b.id);
      return { token: String(count), meta, segments };
    });
  }

  async token(): Promise<string> {
    return this.#guarded(() => String(this.#counter.read()));
  }

  async read(segment: number, start: number, end: number): Promise<Uint8Array> {
    return this.#guarded(() => {
      const fd = this.#fds.get(segment);
      return fd === undefined ? new Uint8Array(0) : readRange(fd, start, end);
    });
  }

  async commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    return this.#locked(async () => {
      const count = this.#current();
      if (String(count) !== token) return undefined;
      try {
        await this.#apply(batch);
      } finally {
        // Bumped even when applying failed half way, so that every handle reads the directory again.
        this.#counter.write(count + 1);
        this.#seen = this.#mine = count + 1;
      }
      return String(count + 1);
    });
  }

  /** Calls `listener` soon after another handle's commit (see `watchCounter`). */
  watch(listener: () => void): () => void {
    const unwatch = watchCounter(
      join(this.#dir, 'commits'),
      () => (this.#failed ? undefined : this.#counter.read()),
      (count) => count === this.#mine,
      listener,
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
    this.#lock.dispose();
    this.#fds.forgetAll();
    this.#forgetMeta();
    await this.#spares.dispose();
  }

  isGone(owner: string): boolean {
    const id = parseOwner(owner);
    return id !== undefined && isDead(id);
  }

  // Order matters for a crash at any point: data, then the metadata that may refer to it, then removals of what
  // the new metadata no longer needs (go-diskqueue deleted first, and its depth drifted).
  async #apply(batch: StorageBatch): Promise<void> {
    const strict = batch.durability === 'strict';
    let dirChanged = false;
    if (batch.write) {
      const { segment, offset, bytes } = batch.write;
      const { fd, created } = this.#fds.create(segment);
      writeAll(fd, bytes, offset);
      // A write at an earlier offset cuts what lay past it (the Queue dropping a torn tail).
      const end = offset + bytes.length;
      if (fstatSync(fd).size > end) ftruncateSync(fd, end);
      // A new file's name is durable only once its directory is synced. Both syncs at once: they are independent,
      // and both are done before the metadata that may count on them, and before the commit resolves.
      if (strict) {
        await Promise.all([
          this.#synced(() => this.#sync.fdatasync(fd)),
          created && this.#synced(() => syncDir(this.#dir, this.#sync)),
        ]);
      }
    }
    if (batch.metaAppend) {
      // In place: a torn append is a frame the Queue's reader drops, so it needs no temp file and rename.
      const { offset, bytes } = batch.metaAppend;
      const fd = (this.#metaFd ??= openSync(join(this.#dir, 'meta'), constants.O_RDWR));
      writeAll(fd, bytes, offset);
      const end = offset + bytes.length;
      if (fstatSync(fd).size > end) ftruncateSync(fd, end);
      if (strict) await this.#synced(() => this.#sync.fdatasync(fd));
    }
    if (batch.meta) {
      this.#forgetMeta();
      // Written under a temp name, then renamed over the old: the whole state is replaced only now and then (a
      // take or an ack appends), so the create this costs is rare.
      const tmp = join(this.#dir, `meta.${this.#tag}.${randomBytes(4).toString('hex')}.tmp`);
      const fd = openSync(tmp, 'w');
      try {
        try {
          writeAll(fd, batch.meta, 0);
          if (strict) await this.#synced(() => this.#sync.fsync(fd));
        } finally {
          closeSync(fd);
        }
        // The rename even when relaxed: a reader sees the old metadata or the new one, never a mix.
        renameSync(tmp, join(this.#dir, 'meta'));
      } catch (error) {
        unlinkQuiet(tmp);
        throw error;
      }
      dirChanged = true;
    }
    const removing = (batch.remove?.length ?? 0) + (batch.quarantine?.length ?? 0) > 0;
    // Segments go only once the metadata that no longer needs them is durable (rare: when a segment is freed).
    if (strict && dirChanged && removing) {
      await this.#synced(() => syncDir(this.#dir, this.#sync));
      dirChanged = false;
    }
    for (const id of batch.remove ?? []) {
      this.#fds.forget(id);
      unlinkQuiet(segmentFile(this.#dir, id));
      dirChanged = true;
    }
    for (const id of batch.quarantine ?? []) {
      this.#fds.forget(id);
      const path = segmentFile(this.#dir, id);
      try {
        renameSync(path, `${path}.bad`);
      } catch (error) {
        // Already gone: nothing is left to set aside.
        if (errno(error) !== 'ENOENT') throw error;
      }
      dirChanged = true;
    }
    if (strict && dirChanged) await this.#synced(() => syncDir(this.#dir, this.#sync));
  }

  /** The commit count, read under the lock; cached descriptors are dropped when another handle committed. */
  #current(): number {
    const count = this.#counter.read();
    if (count !== this.#seen) {
      this.#fds.forgetAll();
      this.#forgetMeta();
    }
    this.#seen = count;
    return count;
  }

  #forgetMeta(): void {
    if (this.#metaFd !== undefined) closeQuiet(this.#metaFd);
    this.#metaFd = undefined;
  }

  /** An fsync that fails is fatal for the handle: what reached the disk is unknown, and retrying would lie. */
  async #synced(sync: () => Promise<void>): Promise<void> {
    try {
      await sync();
    } catch (error) {
      this.#failed = new SluiceError('ERR_STORAGE', `fsync failed in ${this.#dir} (${errno(error) || 'error'}); this handle is unusable, open the queue again.`, { cause: error });
      throw this.#failed;
    }
  }

  async #locked<R>(fn: () => R | Promise<R>): Promise<R> {
    const stolen = await this.#guarded(() => this.#lock.acquire());
    let result: R;
    try {
      result = await this.#guarded(() => {
        // A holder that died mid-commit left changes behind without bumping the counter: make every view stale.
        if (stolen) this.#counter.write(this.#counter.read() + 1);
        return fn();
      });
    } finally {
      // Released even by a handle that has just failed: the lock is never left to other processes' stale check.
      await this.#translated(() => this.#lock.release());
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
      const code = errno(error);
      const quota = code === 'ENOSPC' || code === 'EDQUOT';
      throw new SluiceError(quota ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE', `File storage failed in ${this.#dir} (${code || 'error'}).`, { cause: error });
    }
  }
}
