import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { notAtEnd } from '../../core/blobs.js';
import type { BlobStorage, Durability } from '../../core/store.js';
import { storageError } from '../../core/storage-errors.js';
import type { DirIdentity } from './dir-identity.js';
import { errno, type FileSync, readRange, syncDir, unlinkQuiet, writeAll } from './files.js';
import { createFile, directoryMode, fitMode, NOFOLLOW, openExisting } from './permissions.js';

/** The name a blob written anew has until it is whole (`~` is in no key). */
const NEW = '~new';

/**
 * One queue's blobs as side files, `<queue dir>/blobs/<key>`: appended to by positional writes (at the end only), read by `pread`,
 * removed by `unlink`; a blob written anew over one that exists is written beside it and renamed over. No lock: a blob has one writer (the handle that made its key), and its readers come after the
 * commit that names it. 'strict' syncs the file after each write, and the directory when a file appears in it. Files
 * are made with the store's `mode` and opened without following a link planted under their name, as segments are.
 */
export class FileBlobs implements BlobStorage {
  readonly #queueDir: string;
  readonly #dir: string;
  readonly #sync: FileSync;
  readonly #mode: number;
  readonly #here: DirIdentity;
  #made = false;

  /** `here` tells whether `queueDir` is still the one opened. */
  constructor(queueDir: string, sync: FileSync, mode: number, here: DirIdentity) {
    this.#queueDir = queueDir;
    this.#here = here;
    this.#dir = join(queueDir, 'blobs');
    this.#sync = sync;
    this.#mode = mode;
  }

  async write(key: string, offset: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    try {
      const strict = durability === 'strict';
      if (!this.#made) {
        // Not recursive: a queue directory deleted under the handle is not made again. A directory made now is durable
        // only once its parent is synced.
        if (this.#makeDir() && strict) await syncDir(this.#queueDir, this.#sync);
        this.#made = true;
      }
      if (offset === 0) return await this.#writeAnew(key, bytes, strict);
      const fd = this.#openToAppend(key, offset);
      try {
        // Past its end, a write would leave a gap of zeros that reads back as the blob's bytes.
        const { size } = fstatSync(fd);
        if (size !== offset) throw notAtEnd(key, offset, size);
        writeAll(fd, bytes, offset);
        if (strict) await this.#sync.fdatasync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw this.#here.explain(error) ?? storageError(error, `Cannot write the blob ${key} in ${this.#dir}:`);
    }
  }

  async read(key: string, start: number, end: number): Promise<Uint8Array> {
    try {
      const fd = openExisting(join(this.#dir, key), constants.O_RDONLY);
      if (fd === undefined) return this.#nothing(new Uint8Array(0));
      try {
        // What is there, whatever range was asked for: a buffer of `end - start` bytes could be terabytes.
        return readRange(fd, start, Math.min(end, fstatSync(fd).size));
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw this.#here.explain(error) ?? storageError(error, `Cannot read the blob ${key} in ${this.#dir}:`);
    }
  }

  /**
   * Blob `key` starts afresh with `bytes`, or, when the write fails, is as it was, as in the other stores: a new blob
   * is removed, and one that exists is written beside (`<key>~new`, a name no key has) and renamed over only once whole.
   */
  async #writeAnew(key: string, bytes: Uint8Array, strict: boolean): Promise<void> {
    const path = join(this.#dir, key);
    let written = path;
    let fd: number;
    try {
      fd = await this.#create(path, strict);
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error;
      written = path + NEW;
      fd = openSync(written, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW, this.#mode);
      fitMode(fd, this.#mode);
    }
    try {
      try {
        writeAll(fd, bytes, 0);
        if (strict) await this.#sync.fdatasync(fd);
      } finally {
        closeSync(fd);
      }
      if (written !== path) renameSync(written, path);
    } catch (error) {
      unlinkQuiet(written);
      throw error;
    }
    if (strict) await syncDir(this.#dir, this.#sync);
  }

  /**
   * Creates the file of a new blob. Once every body is sent the blobs' directory is empty, and a cleaner of empty
   * directories (tmpreaper, systemd-tmpfiles, a person) may remove it: it is made again, as a handle opened now would,
   * while the queue's directory is still the one opened.
   */
  async #create(path: string, strict: boolean): Promise<number> {
    try {
      return createFile(path, constants.O_WRONLY, this.#mode);
    } catch (error) {
      if (errno(error) !== 'ENOENT' || this.#here.gone()) throw error;
      if (this.#makeDir() && strict) await syncDir(this.#queueDir, this.#sync);
      return createFile(path, constants.O_WRONLY, this.#mode);
    }
  }

  /** What a read finds of a blob that is not there, or the blobs' directory: nothing, unless the queue's is gone. */
  #nothing<T>(empty: T): T {
    const gone = this.#here.gone();
    if (gone) throw gone;
    return empty;
  }

  /** Makes the blobs' directory in the queue's, which must exist; true when it made it. */
  #makeDir(): boolean {
    try {
      mkdirSync(this.#dir, { mode: directoryMode(this.#mode) });
      // Exactly the mode asked for, as the queue's directory: the umask would take a group's bits away.
      if (this.#mode & 0o066) chmodSync(this.#dir, directoryMode(this.#mode));
      return true;
    } catch (error) {
      if (errno(error) === 'EEXIST') return false;
      throw error;
    }
  }

  /** Opens blob `key` to append at `offset`; a blob that is not there is refused an append as one shorter would be. */
  #openToAppend(key: string, offset: number): number {
    try {
      return openSync(join(this.#dir, key), constants.O_WRONLY | NOFOLLOW);
    } catch (error) {
      if (errno(error) === 'ENOENT') throw notAtEnd(key, offset, 0);
      throw error;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    try {
      for (const key of keys) {
        unlinkQuiet(join(this.#dir, key));
        // Left by a process killed while writing the blob anew.
        unlinkQuiet(join(this.#dir, key + NEW));
      }
    } catch (error) {
      throw this.#here.explain(error) ?? storageError(error, `Cannot delete blobs in ${this.#dir}:`);
    }
  }

  async keys(): Promise<string[]> {
    try {
      return readdirSync(this.#dir).filter((name) => !name.endsWith(NEW));
    } catch (error) {
      if (errno(error) === 'ENOENT') return this.#nothing([]);
      throw this.#here.explain(error) ?? storageError(error, `Cannot list the blobs in ${this.#dir}:`);
    }
  }
}
