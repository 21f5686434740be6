import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { checkName, integer, invalid } from '../../core/options.js';
import type { QueueStorage, SegmentInfo, StorageBatch, StorageSnapshot, Store } from '../../core/store.js';
import { CommitCounter, segmentFile, segmentId, syncData, syncDir, syncFile } from './files.js';
import { isDead, ProcessLock } from './lock.js';

/** Options of `new FileStore()`. */
export interface FileStoreOptions {
  /**
   * The directory holding one sub-directory per queue; created when absent. Relative paths are resolved against
   * the working directory when the store is made.
   * @default '.sluice'
   */
  readonly dir?: string;
  /**
   * How long a commit waits while another live process holds the queue's lock (each holds it for one commit)
   * before failing with 'ERR_LOCKED'. A lock left by a dead process is taken over at once.
   * @default 10_000
   */
  readonly lockTimeoutMs?: number;
}

/**
 * Keeps each queue in a directory of segment files plus a metadata file replaced atomically. Safe against a killed
 * process ('relaxed') or a power cut ('strict'), and shared safely by several processes: every commit holds the
 * directory's lock file and checks that nothing changed since the caller's view.
 */
export class FileStore implements Store {
  readonly dir: string;
  readonly #lockTimeoutMs: number;

  constructor(options: FileStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
    const dir = options.dir ?? '.sluice';
    if (typeof dir !== 'string' || dir === '') invalid('dir', 'a non-empty path', dir);
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    integer('lockTimeoutMs', this.#lockTimeoutMs, 0, 2 ** 31);
    this.dir = resolve(dir);
  }

  async open(name: string): Promise<QueueStorage> {
    // Checked again here, before the name becomes part of a path, whoever calls.
    checkName(name);
    const dir = join(this.dir, name);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new SluiceError('ERR_STORAGE', `Cannot create the queue directory ${dir}.`, { cause: error });
    }
    const storage = new FileQueueStorage(dir, new ProcessLock(dir, this.#lockTimeoutMs));
    await storage.cleanUp();
    return storage;
  }
}

const host = hostname();

class FileQueueStorage implements QueueStorage {
  readonly owner = `${host}:${process.pid}:${randomBytes(6).toString('hex')}`;
  readonly #dir: string;
  readonly #lock: ProcessLock;
  readonly #counter: CommitCounter;
  /** Open descriptors of the segments this handle reads or writes (the tail, mostly). */
  readonly #fds = new Map<number, number>();
  #fatal: SluiceError | undefined;

  constructor(dir: string, lock: ProcessLock) {
    this.#dir = dir;
    this.#lock = lock;
    this.#counter = new CommitCounter(join(dir, 'commits'));
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
      const token = String(this.#counter.read());
      let meta: Uint8Array | undefined;
      try {
        meta = new Uint8Array(readFileSync(join(this.#dir, 'meta')));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      const segments: SegmentInfo[] = [];
      for (const name of readdirSync(this.#dir)) {
        const id = segmentId(name);
        if (id !== undefined) segments.push({ id, length: statSync(join(this.#dir, name)).size });
      }
      segments.sort((a, b) => a.id - b.id);
      return { token, meta, segments };
    });
  }

  async token(): Promise<string> {
    this.#checkUsable();
    return String(this.#counter.read());
  }

  async read(segment: number, start: number, end: number): Promise<Uint8Array> {
    this.#checkUsable();
    const fd = this.#fd(segment, false);
    if (fd === undefined) return new Uint8Array(0);
    const out = new Uint8Array(Math.max(0, end - start));
    let got = 0;
    while (got < out.length) {
      const n = readSync(fd, out, got, out.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  }

  async commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    this.#checkUsable();
    return this.#locked(async () => {
      const count = this.#counter.read();
      if (String(count) !== token) return undefined;
      try {
        await this.#apply(batch);
      } finally {
        // Bumped even when applying failed half way, so that every handle reads the directory again.
        this.#counter.write(count + 1);
      }
      return String(count + 1);
    });
  }

  async close(): Promise<void> {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
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
      const created = !this.#fds.has(segment) && offset === 0;
      const fd = this.#fd(segment, true)!;
      writeAll(fd, bytes, offset);
      const end = offset + bytes.length;
      if (fstatSync(fd).size > end) ftruncateSync(fd, end);
      if (strict) await this.#sync(() => syncData(fd));
      dirChanged ||= created;
    }
    if (batch.meta) {
      const tmp = join(this.#dir, `meta.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      const fd = openSync(tmp, 'w');
      try {
        writeAll(fd, batch.meta, 0);
        if (strict) await this.#sync(() => syncFile(fd));
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, join(this.#dir, 'meta'));
      dirChanged = true;
    }
    for (const id of batch.remove ?? []) {
      this.#forget(id);
      unlinkQuiet(segmentFile(this.#dir, id));
      dirChanged = true;
    }
    for (const id of batch.quarantine ?? []) {
      this.#forget(id);
      const path = segmentFile(this.#dir, id);
      renameSync(path, `${path}.bad`);
      dirChanged = true;
    }
    if (strict && dirChanged) await this.#sync(async () => syncDir(this.#dir));
  }

  /** An fsync that fails is fatal for the handle: what reached the disk is unknown, and retrying would lie. */
  async #sync(sync: () => Promise<void>): Promise<void> {
    try {
      await sync();
    } catch (error) {
      this.#fatal = new SluiceError('ERR_STORAGE', `fsync failed in ${this.#dir}; this handle is unusable, reopen the queue.`, { cause: error });
      throw this.#fatal;
    }
  }

  #checkUsable(): void {
    if (this.#fatal) throw this.#fatal;
  }

  async #locked<R>(fn: () => R | Promise<R>): Promise<R> {
    const stolen = await this.#lock.acquire();
    try {
      // A holder that died mid-commit left changes behind without bumping the counter: make every view stale.
      if (stolen) this.#counter.write(this.#counter.read() + 1);
      return await fn();
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new SluiceError(code === 'ENOSPC' || code === 'EDQUOT' ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE', `File storage failed in ${this.#dir} (${code ?? 'error'}).`, { cause: error });
    } finally {
      this.#lock.release();
    }
  }

  /** The descriptor of segment `id`, opened (and created, when `create`) as needed; undefined when absent. */
  #fd(id: number, create: boolean): number | undefined {
    let fd = this.#fds.get(id);
    if (fd !== undefined) return fd;
    try {
      // Read-write and never O_APPEND: Linux ignores the offset of a positional write to a file opened for appending.
      fd = openSync(segmentFile(this.#dir, id), constants.O_RDWR | (create ? constants.O_CREAT : 0));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    // Few segments are in use at once: the tail being written and the head being read.
    if (this.#fds.size >= 4) {
      const [oldest, oldFd] = this.#fds.entries().next().value as [number, number];
      closeSync(oldFd);
      this.#fds.delete(oldest);
    }
    this.#fds.set(id, fd);
    return fd;
  }

  #forget(id: number): void {
    const fd = this.#fds.get(id);
    if (fd !== undefined) closeSync(fd);
    this.#fds.delete(id);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
