import { randomBytes } from 'node:crypto';
import { constants, fstatSync, linkSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { crc32 } from '../../core/crc32.js';
import { closeQuiet, errno, type FileSync, unlinkQuiet } from './files.js';
import { createFile, NOFOLLOW } from './permissions.js';

// [f64 count][8 random bytes, the stamp][f64 tail segment, -1 for none][f64 its length][u32 CRC-32 of the 32 bytes
// before], little-endian; then an extension: [f64 count again][f64 the count as of which the segment files were last
// made or removed][u32 CRC-32 of the 16 bytes before]. A writer that knows only the first 36 bytes (an earlier
// version) leaves the extension naming another count: it is then not believed.
const BASE = 36;
const SIZE = 56;

/** The newest segment and its length as the last commit left them (see `StorageSnapshot.tail`). */
export type Tail = { readonly id: number; readonly length: number } | undefined;

/**
 * The commit counter of one queue directory, in its file `commits`: bumped under the lock by every commit of every
 * process, so that a handle can tell whether its view is current. The token it gives is the count together with the
 * file's identity (device, inode, and a random stamp written when the file was made): a counter removed or emptied
 * and made again restarts at 0 (one damaged goes on from the count it still holds), and must never match a token of
 * the old one (a handle would then commit on a view from before other handles' commits, and items would be lost or
 * handed out twice).
 *
 * Reading it is one `pread` (`token`), cheap enough for the hot path; under the lock, `verify` first checks that the
 * descriptor still names the file at the path and that its content is whole. Its count is not synced: after a power
 * cut every handle is new and loads afresh, so only its changing matters, not its value. Its tail is, by a strict
 * commit that removes a segment (see `BatchWriter.apply`).
 */
interface Held {
  readonly count: number;
  readonly stamp: string;
  readonly tail: Tail;
  /** The count as of which the set of segment files is as it was last listed; undefined when unknown. */
  readonly listed: number | undefined;
}

export class CommitCounter {
  readonly #path: string;
  readonly #mode: number;
  readonly #tmp: () => string;
  readonly #buffer = new Uint8Array(SIZE);
  readonly #view = new DataView(this.#buffer.buffer);
  #fd = -1;
  #identity = '';
  /** The count, stamp and tail as last read or written under the lock. */
  #held: Held = { count: 0, stamp: '', tail: undefined, listed: undefined };

  /** `tmp` names a temp file to make a new counter in (see `fileTag`); files are made with `mode`. */
  constructor(path: string, mode: number, tmp: () => string) {
    this.#path = path;
    this.#mode = mode;
    this.#tmp = tmp;
    this.#open();
  }

  /** The token as the descriptor reads now; `undefined` when the content is not whole (a torn read, damage). */
  token(): string | undefined {
    const read = this.#read();
    return read && this.#token(read);
  }

  /**
   * Under the lock: makes the descriptor name the counter at the path, opening it again when the file was replaced,
   * making a new one when it was removed, and writing a new stamp over content that is not whole. Says whether it
   * had to do any of that (the directory changed outside any commit); `held` then gives the current token. `moved` is
   * called first when the file at the path is not the one the descriptor has open, and may throw.
   */
  verify(moved?: () => void): { changed: boolean } {
    let changed = false;
    const stat = statSync(this.#path, { throwIfNoEntry: false });
    if (!stat || `${stat.dev}:${stat.ino}` !== this.#identity) {
      moved?.();
      closeQuiet(this.#fd);
      this.#open();
      changed = true;
    }
    const read = this.#read();
    if (read) this.#held = read;
    else {
      // On from the count it held, not from 0: a handle of an earlier version, whose token is the count alone, would
      // take the count coming back to its own for nothing having changed. The new stamp tells every other handle.
      const whole = readSync(this.#fd, this.#buffer, 0, 8, 0) === 8;
      const count = this.#view.getFloat64(0, true);
      this.#write(whole && Number.isSafeInteger(count) && count >= 0 ? count + 1 : 0, randomBytes(8), undefined, undefined);
      changed = true;
    }
    return { changed };
  }

  /** Under the lock, after `verify`: the token of the count it read or last wrote. */
  held(): string {
    return this.#token(this.#held);
  }

  /** Under the lock, after `verify`: the tail the last commit recorded. */
  tail(): Tail {
    return this.#held.tail;
  }

  /**
   * Under the lock, after `verify`: names the commit as of which the set of segment files is unchanged (by any
   * commit), or undefined when that is not known. A listing made when this said the same still names every segment.
   */
  listed(): string | undefined {
    const { listed } = this.#held;
    return listed === undefined ? undefined : this.#token({ ...this.#held, count: listed });
  }

  /** Under the lock, after `verify`: records `tail` without counting a commit (a removal about to be made). */
  setTail(tail: Tail): void {
    this.#write(this.#held.count, Buffer.from(this.#held.stamp, 'hex'), tail, undefined);
  }

  /** Flushes what was last written (a tail that must outlive a power cut). */
  sync(how: FileSync): Promise<void> {
    return how.fsync(this.#fd);
  }

  /**
   * Under the lock, after `verify`: counts one commit more (`held` then gives the new token), recording `tail`, and
   * whether the commit left the set of segment files as it was (`same`: none made, removed or set aside).
   */
  bump(tail: Tail, same: boolean): void {
    const count = this.#held.count + 1;
    const { listed } = this.#held;
    this.#write(count, Buffer.from(this.#held.stamp, 'hex'), tail, same && listed !== undefined ? listed : count);
  }

  close(): void {
    closeQuiet(this.#fd);
  }

  #token({ count, stamp }: Held): string {
    return `${count}@${this.#identity}:${stamp}`;
  }

  #read(): Held | undefined {
    const view = this.#view;
    const n = readSync(this.#fd, this.#buffer, 0, SIZE, 0);
    if (n < BASE || view.getUint32(32, true) !== crc32(this.#buffer, 0, 32)) return undefined;
    const count = view.getFloat64(0, true);
    if (!Number.isSafeInteger(count) || count < 0) return undefined;
    const id = view.getFloat64(16, true);
    const length = view.getFloat64(24, true);
    const tail = Number.isSafeInteger(id) && id >= 0 && Number.isSafeInteger(length) ? { id, length } : undefined;
    const extended = n === SIZE && view.getUint32(52, true) === crc32(this.#buffer, BASE, 52) && view.getFloat64(BASE, true) === count;
    const listed = extended ? view.getFloat64(44, true) : -1;
    return { count, stamp: Buffer.from(this.#buffer.buffer, 8, 8).toString('hex'), tail, listed: Number.isSafeInteger(listed) && listed >= 0 ? listed : undefined };
  }

  #write(count: number, stamp: Uint8Array, tail: Tail, listed: number | undefined): void {
    const out = new Uint8Array(SIZE);
    const view = new DataView(out.buffer);
    view.setFloat64(0, count, true);
    out.set(stamp, 8);
    view.setFloat64(16, tail?.id ?? -1, true);
    view.setFloat64(24, tail?.length ?? 0, true);
    view.setUint32(32, crc32(out, 0, 32), true);
    view.setFloat64(BASE, count, true);
    view.setFloat64(44, listed ?? -1, true);
    view.setUint32(52, crc32(out, BASE, 52), true);
    // One write at offset 0, smaller than a page: a reader sees it whole, or fails the checksum and reads again.
    writeSync(this.#fd, out, 0, SIZE, 0);
    this.#held = { count, stamp: Buffer.from(stamp).toString('hex'), tail, listed };
  }

  /**
   * Opens the counter at the path, making it first when there is none. A new counter appears whole, stamp
   * included: it is written under a temp name and linked into place, which fails when another handle was first.
   */
  #open(): void {
    for (;;) {
      try {
        // Not O_APPEND: Linux ignores the offset of a positional write to a file opened for appending.
        this.#fd = openSync(this.#path, constants.O_RDWR | NOFOLLOW);
        break;
      } catch (error) {
        if (errno(error) !== 'ENOENT') throw error;
      }
      const tmp = this.#tmp();
      const fd = createFile(tmp, constants.O_RDWR, this.#mode);
      try {
        this.#fd = fd;
        this.#write(0, randomBytes(8), undefined, undefined);
        linkSync(tmp, this.#path);
        break;
      } catch (error) {
        closeQuiet(fd);
        this.#fd = -1;
        if (errno(error) !== 'EEXIST') throw error;
      } finally {
        unlinkQuiet(tmp);
      }
    }
    const { dev, ino } = fstatSync(this.#fd);
    this.#identity = `${dev}:${ino}`;
  }
}
