import { closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import type { BlobStorage, Durability } from '../../core/store.js';
import { storageError } from '../../core/storage-errors.js';
import { errno, type FileSync, readRange, syncDir, unlinkQuiet, writeAll } from './files.js';
import { directoryMode, fitMode, NOFOLLOW, openExisting } from './permissions.js';

/**
 * One queue's blobs as side files, `<queue dir>/blobs/<key>`: appended to by positional writes (at the end only), read by `pread`,
 * removed by `unlink`. No lock: a blob has one writer (the handle that made its key), and its readers come after the
 * commit that names it. 'strict' syncs the file after each write, and the directory when a file appears in it. Files
 * are made with the store's `mode` and opened without following a link planted under their name, as segments are.
 */
export class FileBlobs implements BlobStorage {
  readonly #queueDir: string;
  readonly #dir: string;
  readonly #sync: FileSync;
  readonly #mode: number;
  #made = false;

  constructor(queueDir: string, sync: FileSync, mode: number) {
    this.#queueDir = queueDir;
    this.#dir = join(queueDir, 'blobs');
    this.#sync = sync;
    this.#mode = mode;
  }

  async write(key: string, offset: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    try {
      const strict = durability === 'strict';
      if (!this.#made) {
        // A directory made now is durable only once its parent is synced.
        if (mkdirSync(this.#dir, { recursive: true, mode: directoryMode(this.#mode) }) !== undefined && strict) await syncDir(this.#queueDir, this.#sync);
        this.#made = true;
      }
      // Offset 0 creates or empties the file: the blob starts afresh. Otherwise it is appended to.
      const flags = offset === 0 ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_WRONLY;
      const fd = this.#open(key, offset, flags);
      try {
        if (offset === 0) fitMode(fd, this.#mode);
        else {
          // Past its end, a write would leave a gap of zeros that reads back as the blob's bytes.
          const { size } = fstatSync(fd);
          if (size !== offset) throw notAtEnd(key, offset, size);
        }
        writeAll(fd, bytes, offset);
        if (strict) await this.#sync.fdatasync(fd);
      } finally {
        closeSync(fd);
      }
      if (strict && offset === 0) await syncDir(this.#dir, this.#sync);
    } catch (error) {
      throw storageError(error, `Cannot write the blob ${key} in ${this.#dir}:`);
    }
  }

  async read(key: string, start: number, end: number): Promise<Uint8Array> {
    try {
      const fd = openExisting(join(this.#dir, key), constants.O_RDONLY);
      if (fd === undefined) return new Uint8Array(0);
      try {
        // What is there, whatever range was asked for: a buffer of `end - start` bytes could be terabytes.
        return readRange(fd, start, Math.min(end, fstatSync(fd).size));
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw storageError(error, `Cannot read the blob ${key} in ${this.#dir}:`);
    }
  }

  /** Opens blob `key` to write at `offset`; a blob that is not there is refused an append as one shorter would be. */
  #open(key: string, offset: number, flags: number): number {
    try {
      return openSync(join(this.#dir, key), flags | NOFOLLOW, this.#mode);
    } catch (error) {
      if (offset > 0 && errno(error) === 'ENOENT') throw notAtEnd(key, offset, 0);
      throw error;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    try {
      for (const key of keys) unlinkQuiet(join(this.#dir, key));
    } catch (error) {
      throw storageError(error, `Cannot delete blobs in ${this.#dir}:`);
    }
  }

  async keys(): Promise<string[]> {
    try {
      return readdirSync(this.#dir);
    } catch (error) {
      if (errno(error) === 'ENOENT') return [];
      throw storageError(error, `Cannot list the blobs in ${this.#dir}:`);
    }
  }
}

function notAtEnd(key: string, offset: number, length: number): SluiceError {
  return new SluiceError(
    'ERR_INVALID_OPTION',
    `Expected \`offset\` to be 0 (a new blob) or the length of blob ${key} (${length}, an append), got ${offset}.`,
  );
}
