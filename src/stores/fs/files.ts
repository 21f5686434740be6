import { closeSync, constants, fsync, fdatasync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

// Segment files are named by id, zero-padded so that a directory listing sorts like the queue.
const SEGMENT = /^(\d{16})\.seg$/;

export function segmentFile(dir: string, id: number): string {
  return join(dir, `${String(id).padStart(16, '0')}.seg`);
}

/** The id of a segment file name, or undefined for any other file. */
export function segmentId(name: string): number | undefined {
  const match = SEGMENT.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Flushes a file's data (and the size needed to read it back) to the medium. */
export function syncData(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

export function syncFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/**
 * Makes the creation, renaming or removal of files in `dir` durable. Platforms that cannot open a directory for
 * syncing (Windows) make those durable by other means, so their refusal is not an error.
 */
export function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (error) {
    if (['EISDIR', 'EPERM', 'EACCES'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    if (!['EINVAL', 'EBADF', 'EISDIR', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    closeSync(fd);
  }
}

/**
 * A counter in a small file, bumped under the lock by every commit: the token that tells a handle whether its
 * view is still current. Reading it is one `pread`.
 */
export class CommitCounter {
  readonly #fd: number;
  readonly #buffer = new Uint8Array(8);
  readonly #view = new DataView(this.#buffer.buffer);

  constructor(path: string) {
    // Not O_APPEND: Linux ignores the offset of a positional write to a file opened for appending.
    this.#fd = openSync(path, constants.O_RDWR | constants.O_CREAT);
  }

  read(): number {
    const n = readSync(this.#fd, this.#buffer, 0, 8, 0);
    return n === 8 ? this.#view.getFloat64(0, true) : 0;
  }

  write(value: number): void {
    this.#view.setFloat64(0, value, true);
    writeSync(this.#fd, this.#buffer, 0, 8, 0);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
