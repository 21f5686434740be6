import { constants, fstatSync, lstatSync, renameSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { closeQuiet, segmentFile, unlinkQuiet } from './files.js';
import { createFile, openExisting } from './permissions.js';
import type { Spares } from './spare.js';

// Few segments are in use at once: the tail being written and the head being read.
const KEEP = 4;

/**
 * A file as found at a path: which file it is (device and inode) and how long. Inode numbers are exact as numbers up
 * to 2^53, which the file systems Node runs on stay below.
 */
export interface FileState {
  readonly identity: string;
  readonly size: number;
}

/**
 * The state of the file at `path`; undefined when there is none. Anything but a regular file there (a symbolic
 * link planted under the name of a queue file, say) is refused, never followed.
 */
export function stateOf(path: string): FileState | undefined {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (stat && !stat.isFile()) throw notAFile(path, stat.isSymbolicLink());
  return stat && { identity: `${stat.dev}:${stat.ino}`, size: stat.size };
}

/** The error for a queue file that is not a regular file. */
export function notAFile(path: string, link: boolean, cause?: unknown): SluiceError {
  return new SluiceError(
    'ERR_STORAGE',
    `${path} is ${link ? 'a symbolic link' : 'not a regular file'}, which is never followed or used as a queue file (another user could plant links). Remove it.`,
    cause === undefined ? undefined : { cause },
  );
}

/** The identity (device and inode) of the file open as `fd`. */
export function identityOf(fd: number): string {
  const { dev, ino } = fstatSync(fd);
  return `${dev}:${ino}`;
}

/**
 * Open descriptors of one queue's segment files, so that an append or a read costs no `open`. A descriptor names
 * an inode, not a path: when the segment was removed (by another handle, an operator, a temp cleaner) or replaced,
 * a cached descriptor would still read, and write, a file nobody else sees. So every use first checks that the path
 * still names the file the descriptor has open (one `lstat`), and opens it again when not.
 */
export class Descriptors {
  readonly #dir: string;
  readonly #fds = new Map<number, { fd: number; identity: string }>();
  readonly #spares: Spares;
  readonly #mode: number;

  /** New segment files are made with `mode`. */
  constructor(dir: string, spares: Spares, mode: number) {
    this.#dir = dir;
    this.#spares = spares;
    this.#mode = mode;
  }

  /**
   * A descriptor of segment `id` as the file at its path is now (`now`, when the caller has just looked), or
   * undefined when there is no such file.
   */
  get(id: number, now = stateOf(segmentFile(this.#dir, id))): number | undefined {
    return this.open(id, now)?.fd;
  }

  /** As `get`, with the identity of the file the descriptor has open. */
  open(id: number, now: FileState | undefined): { fd: number; identity: string } | undefined {
    const kept = this.#fds.get(id);
    if (kept && kept.identity === now?.identity) return kept;
    this.forget(id);
    return now && this.#open(id);
  }

  /** Makes segment `id`, which the caller knows to be absent (under the lock); returns its descriptor and identity. */
  create(id: number): { fd: number; identity: string } {
    this.forget(id);
    const path = segmentFile(this.#dir, id);
    const spare = this.#spares.take();
    if (spare) {
      try {
        // Only under the lock, and only once the segment is known to be absent: a rename replaces silently.
        renameSync(spare.path, path);
        return this.#keep(id, spare.fd);
      } catch {
        // The spare is unusable (removed under us, say): the file is created below instead.
        closeQuiet(spare.fd);
        unlinkQuiet(spare.path);
      }
    }
    return this.#keep(id, createFile(path, constants.O_RDWR, this.#mode));
  }

  forget(id: number): void {
    const kept = this.#fds.get(id);
    if (kept) closeQuiet(kept.fd);
    this.#fds.delete(id);
  }

  forgetAll(): void {
    for (const { fd } of this.#fds.values()) closeQuiet(fd);
    this.#fds.clear();
  }

  #open(id: number): { fd: number; identity: string } | undefined {
    // Read-write and never O_APPEND: Linux ignores the offset of a positional write to a file opened for appending.
    const fd = openExisting(segmentFile(this.#dir, id), constants.O_RDWR);
    return fd === undefined ? undefined : this.#keep(id, fd);
  }

  #keep(id: number, fd: number): { fd: number; identity: string } {
    if (this.#fds.size >= KEEP) this.forget(this.#fds.keys().next().value as number);
    const kept = { fd, identity: identityOf(fd) };
    this.#fds.set(id, kept);
    return kept;
  }
}
