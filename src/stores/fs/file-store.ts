import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { checkName, integer, invalid } from '../../core/options.js';
import type { QueueStorage, SegmentInfo, StorageBatch, StorageSnapshot, Store } from '../../core/store.js';
import { Descriptors } from './descriptors.js';
import { CommitCounter, errno, type FileSync, nodeSync, readRange, segmentFile, segmentId, syncDir, unlinkQuiet, writeAll } from './files.js';
import { isDead, ProcessLock } from './lock.js';

export type { FileSync } from './files.js';

/** Options of `new FileStore()`. */
export interface FileStoreOptions {
  /**
   * The directory holding one sub-directory per queue; created when absent. A relative path is resolved against
   * the working directory when the store is made.
   * @default '.sluice'
   */
  readonly dir?: string;
  /**
   * How long a commit waits while another live process holds the queue's lock (each holds it for one commit, a
   * few microseconds to one fsync) before failing with 'ERR_LOCKED' naming that process. A lock left by a process
   * that died is taken over at once, whatever this says.
   * @default 10_000
   */
  readonly lockTimeoutMs?: number;
  /**
   * A lock file (or takeover marker) whose content cannot be read, which only a power cut leaves behind (lock files
   * appear whole), counts as abandoned once it is this old. Locks of dead processes on this host do not wait for it.
   * @default 10_000
   */
  readonly staleMs?: number;
  /**
   * How files are pressed to the medium. Replace it to see how the store meets a failing disk (an fsync error
   * makes the handle unusable: every later call rejects 'ERR_STORAGE' with that error as `cause`).
   * @default `fsync` and `fdatasync` of `node:fs`
   */
  readonly sync?: FileSync;
}

/**
 * Keeps each queue in a directory of segment files plus a metadata file replaced atomically. Safe against a killed
 * process ('relaxed') or a power cut ('strict'), and shared safely by several processes: every commit holds the
 * directory's lock file and checks that no process committed since the caller's view.
 *
 * @example
 * const queue = await Queue.open({ name: 'emails', store: new FileStore({ dir: '/var/lib/app/queues' }) });
 */
export class FileStore implements Store {
  /** The absolute path of the store's directory. */
  readonly dir: string;
  readonly #lockTimeoutMs: number;
  readonly #staleMs: number;
  readonly #sync: FileSync;

  constructor(options: FileStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
    const { dir = '.sluice', lockTimeoutMs = 10_000, staleMs = 10_000, sync = nodeSync } = options;
    if (typeof dir !== 'string' || dir === '') invalid('dir', 'a non-empty path', dir);
    integer('lockTimeoutMs', lockTimeoutMs, 0, 2 ** 31);
    integer('staleMs', staleMs, 0, 2 ** 31);
    if (typeof sync?.fsync !== 'function' || typeof sync.fdatasync !== 'function') {
      invalid('sync', 'an object with fsync and fdatasync functions', sync);
    }
    this.dir = resolve(dir);
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#staleMs = staleMs;
    this.#sync = sync;
  }

  async open(name: string): Promise<QueueStorage> {
    // Checked again here, before the name becomes part of a path, whoever calls.
    checkName(name);
    const dir = join(this.dir, name);
    let lock: ProcessLock;
    try {
      mkdirSync(dir, { recursive: true });
      lock = new ProcessLock(dir, this.#lockTimeoutMs, this.#staleMs);
    } catch (error) {
      throw new SluiceError('ERR_STORAGE', `Cannot create the queue directory ${dir} (${errno(error) || 'error'}).`, { cause: error });
    }
    const storage = new FileQueueStorage(dir, lock, this.#sync);
    try {
      await storage.cleanUp();
    } catch (error) {
      await storage.close();
      throw error;
    }
    return storage;
  }
}

const host = hostname();

class FileQueueStorage implements QueueStorage {
  readonly owner = `${host}:${process.pid}:${randomBytes(6).toString('hex')}`;
  readonly #dir: string;
  readonly #lock: ProcessLock;
  readonly #sync: FileSync;
  readonly #counter: CommitCounter;
  readonly #fds: Descriptors;
  /** The commit count as of which `#fds` is known to name the current files. */
  #seen = -1;
  #failed: SluiceError | undefined;

  constructor(dir: string, lock: ProcessLock, sync: FileSync) {
    this.#dir = dir;
    this.#lock = lock;
    this.#sync = sync;
    this.#counter = new CommitCounter(join(dir, 'commits'));
    this.#fds = new Descriptors(dir);
  }

  /** Removes temp files of writers that died mid-rename. Under the lock: a live writer's temp file is in use. */
  async cleanUp(): Promise<void> {
    await this.#locked(() => {
      for (const name of readdirSync(this.#dir)) if (name.endsWith('.tmp')) unlinkSync(join(this.#dir, name));
      ProcessLock.cleanUp(this.#dir);
    });
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
        this.#seen = count + 1;
      }
      return String(count + 1);
    });
  }

  async close(): Promise<void> {
    if (this.#failed?.code === 'ERR_CLOSED') return;
    this.#failed = new SluiceError('ERR_CLOSED', `The storage of ${this.#dir} was closed.`);
    this.#fds.forgetAll();
    this.#counter.close();
    this.#lock.dispose();
  }

  isGone(owner: string): boolean {
    const [ownerHost, pid] = owner.split(':');
    return isDead({ host: ownerHost ?? '', pid: Number(pid) });
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
      if (strict) await this.#synced(() => this.#sync.fdatasync(fd));
      dirChanged ||= created;
    }
    if (batch.meta) {
      const tmp = join(this.#dir, `meta.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      const fd = openSync(tmp, 'w');
      try {
        writeAll(fd, batch.meta, 0);
        if (strict) await this.#synced(() => this.#sync.fsync(fd));
      } finally {
        closeSync(fd);
      }
      // The rename even when relaxed: a reader sees the old metadata or the new one, never a mix.
      renameSync(tmp, join(this.#dir, 'meta'));
      dirChanged = true;
    }
    for (const id of batch.remove ?? []) {
      this.#fds.forget(id);
      unlinkQuiet(segmentFile(this.#dir, id));
      dirChanged = true;
    }
    for (const id of batch.quarantine ?? []) {
      this.#fds.forget(id);
      const path = segmentFile(this.#dir, id);
      renameSync(path, `${path}.bad`);
      dirChanged = true;
    }
    if (strict && dirChanged) await this.#synced(() => syncDir(this.#dir, this.#sync));
  }

  /** The commit count, read under the lock; cached descriptors are dropped when another handle committed. */
  #current(): number {
    const count = this.#counter.read();
    if (count !== this.#seen) this.#fds.forgetAll();
    this.#seen = count;
    return count;
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
