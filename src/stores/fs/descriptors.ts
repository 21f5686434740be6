import { constants, fstatSync, lstatSync, renameSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { storageError } from '../../core/storage-errors.js';
import { closeQuiet, errno, segmentFile, unlinkQuiet } from './files.js';
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

/**
 * A file system error of the queue directory `dir` as a SluiceError (see `storageError`), `message` first; O_NOFOLLOW
 * meeting a symbolic link planted under the name of a queue file is told as such. SluiceErrors pass through.
 */
export function fileError(error: unknown, dir: string, message: string): SluiceError {
  if (errno(error) === 'ELOOP') return notAFile((error as NodeJS.ErrnoException).path ?? dir, true, error);
  return storageError(error, message);
}

/** The identity (device and inode) of the file open as `fd`. */
export function identityOf(fd: number): string {
  const { dev, ino } = fstatSync(fd);
  return `${dev}:${ino}`;
}

/** A descriptor kept for a segment, with the identity of the file it has open. */
export interface Kept {
  readonly fd: number;
  readonly identity: string;
}

interface Entry extends Kept {
  /** Users that await with the descriptor in hand (a strict commit's sync): it is closed only once they are done. */
  pins: number;
  /** No longer kept: closed when the last pin goes. */
  dropped: boolean;
}

/**
 * Open descriptors of one queue's segment files, so that an append or a read costs no `open`. A descriptor names
 * an inode, not a path: when the segment was removed (by another handle, an operator, a temp cleaner) or replaced,
 * a cached descriptor would still read, and write, a file nobody else sees. So every use first checks that the path
 * still names the file the descriptor has open (one `lstat`), and opens it again when not.
 *
 * Reads are not under the lock, nor in line with commits: a read may drop a descriptor (its file replaced, or the
 * oldest of those kept) while a strict commit awaits the sync of it. A descriptor closed then would fail the sync
 * (EBADF), or, its number given to the next file opened, have the sync press another file and the commit be said
 * durable when it is not. So a commit pins what it uses (`pin`), and a pinned descriptor dropped is closed when unpinned.
 */
export class Descriptors {
  readonly #dir: string;
  readonly #fds = new Map<number, Entry>();
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
  open(id: number, now: FileState | undefined): Kept | undefined {
    const kept = this.#fds.get(id);
    if (kept && kept.identity === now?.identity) return kept;
    this.forget(id);
    return now && this.#open(id);
  }

  /** Makes segment `id`, which the caller knows to be absent (under the lock); returns its descriptor and identity. */
  create(id: number): Kept {
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

  /**
   * Keeps `kept` (as `open` or `create` gave it) open until the function returned is called, whatever drops it
   * meanwhile (`forget`, `forgetAll`, another segment taking its place).
   */
  pin(kept: Kept): () => void {
    const entry = kept as Entry;
    entry.pins++;
    let pinned = true;
    return () => {
      if (!pinned) return;
      pinned = false;
      if (--entry.pins === 0 && entry.dropped) closeQuiet(entry.fd);
    };
  }

  forget(id: number): void {
    const kept = this.#fds.get(id);
    if (kept) this.#drop(kept);
    this.#fds.delete(id);
  }

  forgetAll(): void {
    for (const entry of this.#fds.values()) this.#drop(entry);
    this.#fds.clear();
  }

  #drop(entry: Entry): void {
    entry.dropped = true;
    if (entry.pins === 0) closeQuiet(entry.fd);
  }

  #open(id: number): Kept | undefined {
    // Read-write and never O_APPEND: Linux ignores the offset of a positional write to a file opened for appending.
    const fd = openExisting(segmentFile(this.#dir, id), constants.O_RDWR);
    return fd === undefined ? undefined : this.#keep(id, fd);
  }

  #keep(id: number, fd: number): Kept {
    if (this.#fds.size >= KEEP) {
      // The oldest not pinned: a pinned one stays kept too, and is used again by the next commit to its segment.
      for (const [other, entry] of this.#fds) {
        if (entry.pins === 0) {
          this.forget(other);
          break;
        }
      }
    }
    const kept: Entry = { fd, identity: identityOf(fd), pins: 0, dropped: false };
    this.#fds.set(id, kept);
    return kept;
  }
}
