import { randomBytes } from 'node:crypto';
import { constants, fstatSync, lstatSync, openSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { isFull } from '../../core/storage-errors.js';
import type { StorageBatch } from '../../core/store.js';
import { closeQuiet, errno, unlinkQuiet, writeAll } from './files.js';
import { createFile, NOFOLLOW } from './permissions.js';

/**
 * The reserve's size. Draining a full disk one item at a time needs room for the metadata to grow until a whole
 * segment is acked and removed: its records grow it by up to `COMPACT_BYTES` (32 KiB, see `MetaLog`) before it is
 * written whole again, which needs room for the new copy beside the old till the rename, and appends need whole pages
 * (4 KiB; more on some file systems). 64 KiB covers that with a checkpoint of up to about 24 KiB.
 */
export const RESERVE_BYTES = 64 * 1024;

/** The file's name in the queue directory: no other file's (see `LEFTOVER` and `segmentId`), so nothing else removes it. */
export const RESERVE_NAME = 'reserve';

/**
 * Spare bytes on the queue's disk, held in the file `reserve` for commits that add no items (takes, acks, `clear`),
 * so that a disk filled by pushes can still be drained or cleared: such a commit needs room for metadata too, and
 * only frees space once a whole segment is acked. When it fails on a full disk (ENOSPC, EDQUOT) the reserve is removed
 * and the commit made once more; the reserve is made again by the next commit that removes a segment, or that finds
 * room for it, and while it is missing a push is refused unless it fits beside the push. Only the holder of the queue's
 * lock makes it (an open short of room for its lock file may spend it, see `spendReserve`). It is never state: its
 * absence, or a short one left by a process killed while making it, changes nothing but how much room there is.
 */
export class Reserve {
  readonly #dir: string;
  readonly #path: string;
  readonly #mode: number;
  /** Whether to look at the reserve at the next commit: at the first of a handle, and after one removed a segment. */
  #due = true;
  /**
   * Making it failed for want of room: each commit looks at the disk's free space (one `statfs`) and makes it once it
   * fits, since room may come back by other means (files removed) before any segment of this queue goes.
   */
  #wanting = false;
  /**
   * Making it failed over a quota (EDQUOT), which `statfs` does not show: pushes no longer try to make it first (each
   * would write and remove 64 KiB), till a segment goes.
   */
  #overQuota = false;

  constructor(dir: string, mode: number) {
    this.#dir = dir;
    this.#path = join(dir, RESERVE_NAME);
    this.#mode = mode;
  }

  /**
   * Under the lock: runs `apply`, which writes `batch` (`removing` segments after it) and on failure takes back what it
   * wrote; when it fails on a full disk and `batch` adds no item (it writes no bytes to a segment: a `clear` may make an empty one, see
   * `Segments.floorAfter`), removes the reserve and runs it once more.
   */
  async commit<R>(batch: StorageBatch, removing: boolean, apply: () => Promise<R>): Promise<R> {
    // Made before the commit, so that the room a removal frees goes to the reserve first, not to the next push.
    if (this.#due || (this.#wanting && this.#fits())) this.#make();
    // A push never takes the reserve's room, spent or not: while the reserve is missing (spent by a drain, or by an
    // open for its lock file), a push is refused unless the disk has room for the reserve beside it, which is then
    // made first. Else, on a disk that pushes go on filling, the room a spent reserve freed goes to the next push, and
    // the drain that spent it is stuck for as long as anything pushes.
    const adding = batch.write?.bytes.length ?? 0;
    if (adding > 0 && !this.#overQuota && !this.#present()) {
      if (!this.#fits(adding)) {
        throw Object.assign(new Error('ENOSPC: no room for the queue\'s reserve beside this push'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      }
      this.#make();
    }
    try {
      return await apply();
    } catch (error) {
      // Only a plain file system error is tried again: a failed fsync, or a commit that could not be taken back, is
      // an 'ERR_STORAGE' already, and stands.
      if (adding > 0 || !isFull(error) || !spendReserve(this.#path)) throw error;
      return await apply();
    } finally {
      if (removing) {
        this.#due = true;
        this.#overQuota = false;
      }
    }
  }

  /** Whether the reserve file is there (whole or not). */
  #present(): boolean {
    try {
      return lstatSync(this.#path, { throwIfNoEntry: false }) !== undefined;
    } catch {
      return true;
    }
  }

  /** Whether the disk has room for a whole reserve and two pages more (and `extra` bytes). */
  #fits(extra = 0): boolean {
    try {
      const { bavail, bsize } = statfsSync(this.#dir);
      return bavail * bsize >= RESERVE_BYTES + extra + 2 * bsize;
    } catch {
      return false;
    }
  }

  /** Makes the reserve, or fills up one cut short; removes it when it does not fit whole. Best effort. */
  #make(): void {
    this.#due = false;
    this.#wanting = false;
    let fd: number | undefined;
    // Another user's (a group-shared queue) that this one cannot write, or a directory of that name: left as it is.
    // Non-blocking: a FIFO of that name would otherwise block this open, under the lock, for as long as no reader came.
    try {
      fd = openSync(this.#path, constants.O_WRONLY | NOFOLLOW | (constants.O_NONBLOCK ?? 0));
    } catch (error) {
      if (errno(error) !== 'ENOENT') return;
    }
    try {
      if (fd === undefined) fd = createFile(this.#path, constants.O_WRONLY, this.#mode);
      const stat = fstatSync(fd);
      // Only a file of its own: a FIFO, a device or a hard link to another file (whose content it would change) is left.
      if (!stat.isFile() || stat.nlink > 1) {
        closeQuiet(fd);
        fd = undefined;
        return;
      }
      const { size } = stat;
      // Random bytes, not zeros: a file system that compresses or dedupes would store zeros in no room at all.
      // Not synced: lost to a power cut, it is made again.
      if (size < RESERVE_BYTES) writeAll(fd, randomBytes(RESERVE_BYTES - size), size);
    } catch (error) {
      // Whole or none: a part of one would take room a push needs, on a disk too full for the reserve (a read-only
      // directory has none to remove). The next removal of a segment tries again, and, when the disk was full, the
      // first commit that finds room for it (see `#wanting`).
      // Not for a quota (EDQUOT), which `statfs` does not show: each commit would write and remove the reserve again.
      const code = errno(error);
      if (code === 'ENOSPC') this.#wanting = true;
      if (code === 'EDQUOT') this.#overQuota = true;
      if (fd !== undefined) {
        try {
          unlinkQuiet(this.#path);
        } catch {}
      }
    } finally {
      if (fd !== undefined) closeQuiet(fd);
    }
  }
}

/**
 * Removes the reserve at `path` (a queue directory's `reserve`): true when there was one to free. Also used, without
 * the lock, by an open that finds no room for its lock file: the reserve holds no state, and a holder making it at the
 * same time only writes into a file that is gone.
 */
export function spendReserve(path: string): boolean {
  // Not synced, even for strict commits: were the removal lost to a power cut, the file system would give back its
  // blocks with it, never those the retried commit wrote in their place.
  try {
    const held = lstatSync(path, { throwIfNoEntry: false });
    // An empty one frees nothing, nor one hard-linked elsewhere (a copy made with `cp -al`); a directory or a link of
    // that name is none of the store's.
    if (!held?.isFile() || held.size === 0 || held.nlink > 1) return false;
    unlinkQuiet(path);
    return true;
  } catch {
    return false;
  }
}
