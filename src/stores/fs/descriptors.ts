import { closeSync, constants, openSync, renameSync } from 'node:fs';
import { closeQuiet, errno, segmentFile, unlinkQuiet } from './files.js';
import type { Spares } from './spare.js';

// Few segments are in use at once: the tail being written and the head being read.
const KEEP = 4;

/**
 * Open descriptors of one queue's segment files, so that an append or a read costs no `open`. A descriptor names
 * an inode, not a path: when another process removed a segment, a cached descriptor would still read (and write!)
 * the unlinked file. So the cache is dropped whenever another process committed (`forgetAll`).
 */
export class Descriptors {
  readonly #dir: string;
  readonly #fds = new Map<number, number>();
  readonly #spares: Spares;

  constructor(dir: string, spares: Spares) {
    this.#dir = dir;
    this.#spares = spares;
  }

  /** The descriptor of segment `id`, or undefined when the file does not exist. */
  get(id: number): number | undefined {
    return this.#fds.get(id) ?? this.#open(id, 0);
  }

  /** The descriptor of segment `id`, creating the file when absent; `created` says whether it did. */
  create(id: number): { fd: number; created: boolean } {
    const existing = this.get(id);
    if (existing !== undefined) return { fd: existing, created: false };
    const spare = this.#spares.take();
    if (spare) {
      try {
        // Only under the lock, and only once the segment is known to be absent: a rename replaces silently.
        renameSync(spare.path, segmentFile(this.#dir, id));
        return { fd: this.#keep(id, spare.fd), created: true };
      } catch {
        // The spare is unusable (removed under us, say): the file is created below instead.
        closeQuiet(spare.fd);
        unlinkQuiet(spare.path);
      }
    }
    return { fd: this.#open(id, constants.O_CREAT)!, created: true };
  }

  forget(id: number): void {
    const fd = this.#fds.get(id);
    if (fd !== undefined) closeSync(fd);
    this.#fds.delete(id);
  }

  forgetAll(): void {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }


  #open(id: number, flags: number): number | undefined {
    let fd: number;
    try {
      // Read-write and never O_APPEND: Linux ignores the offset of a positional write to a file opened for appending.
      fd = openSync(segmentFile(this.#dir, id), constants.O_RDWR | flags);
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined;
      throw error;
    }
    return this.#keep(id, fd);
  }

  #keep(id: number, fd: number): number {
    if (this.#fds.size >= KEEP) this.forget(this.#fds.keys().next().value as number);
    this.#fds.set(id, fd);
    return fd;
  }
}
