import { closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, readFileSync, renameSync, statSync, utimesSync, writeSync } from 'node:fs';
import { uptime } from 'node:os';
import { join } from 'node:path';
import { realNow } from '../../core/real-timers.js';
import { isFull } from '../../core/storage-errors.js';
import { RESERVE_NAME, spendReserve } from './reserve.js';
import { closeQuiet, errno, unlinkQuiet } from './files.js';
import { removeLeftovers } from './leftovers.js';
import { createFile, openExisting } from './permissions.js';
import { fileId, fileTag, liveness, type ProcessId, thisProcess, ticketId } from './process-id.js';

/** A lock file as read: who holds it (or `unreadable`: a power cut can leave one whose content never reached the disk), which inode it is, how old. */
export interface LockFile {
  readonly holder: ProcessId | 'unreadable';
  readonly ino: number;
  /** When its holder last began to hold it (see `LockFiles.touch`), or when its content was written. */
  readonly mtimeMs: number;
}

/**
 * Lock contents of handles closed in this process that could not be removed (a read-only directory, say), by path,
 * with their inodes: a lock file still linked to one has no holder left to give it up, though its process lives.
 */
const closedContents = new Map<string, number>();

/**
 * The wall clock's lead over the machine's uptime when this module loaded: a change tells a step (see `#heldLong`).
 * The uptime, not the monotonic clock, which stands still while the machine sleeps: a laptop's sleep is no step.
 */
const upSince = () => Date.now() - uptime() * 1000;
const wallLead = upSince();
/** A change of that lead past this is a step of the wall clock (NTP, a laptop waking), not drift. */
const STEP_MS = 1000;

/**
 * One handle's lock content, and the lock files of its queue directory as it sees them. The content (a file naming
 * this process: host, boot, pid, start time, pid namespace) is written once, when the handle is made; holding a
 * lock file is having it `link`ed to that content, so a lock file appears whole or not at all (an O_EXCL create
 * followed by a write would leave an empty, unattributable lock if killed in between), and whose it is can be told
 * by its inode.
 */
export class LockFiles {
  readonly #dir: string;
  readonly #staleMs: number;
  readonly #mode: number;
  readonly #me = thisProcess();
  /** This handle's lock content, written when the handle is made. */
  readonly #own: string;
  /** The inode of `#own`: a lock file is this handle's while it is that inode. */
  #ino = 0;
  /** When this handle first saw each lock file it cannot judge (inode and time), on the monotonic clock. */
  readonly #firstSeen = new Map<string, number>();

  /** Lock files are made with `mode`; unreadable or unjudgeable ones count as abandoned after `staleMs`. */
  constructor(dir: string, staleMs: number, mode: number) {
    this.#dir = dir;
    this.#staleMs = staleMs;
    this.#mode = mode;
    this.#own = join(dir, this.name('own'));
    this.#writeOwn();
  }

  /**
   * A new name for a lock file of this handle's (its content, a takeover's temp file):
   * `lock.<pid>_<start>.<random>.<suffix>`, by which the files of a dead process are cleared (see `removeLeftovers`).
   */
  name(suffix: string, id: (tag: string) => string = fileId): string {
    return `lock.${id(fileTag(this.#me))}.${suffix}`;
  }

  /** A new name for a waiter's ticket taken at `ms` (wall clock), as `name` makes them but in the order taken (see `ticketId`). */
  ticketName(ms: number): string {
    return this.name(`${ms}.wait`, ticketId);
  }

  /** Removes this handle's lock content file; when it cannot, says so to later handles of this process. */
  dispose(): void {
    try {
      unlinkQuiet(this.#own);
    } catch (error) {
      closedContents.set(this.#own, this.#ino);
      throw error;
    }
  }

  /**
   * Sets the time of this handle's content to now, before it links it as the lock for a run of holds: a lock file's
   * time then says when its holder began to hold it, by which a waiter judges a holder it cannot look up (in
   * another container: see `abandoned`) and tells how much of the holder's slice is left (see `ProcessLock`). The
   * time the content was written would make a live holder in another container look abandoned once its handle is
   * older than `staleMs`, and its lock be taken in the middle of its commit.
   */
  touch(): void {
    const now = new Date();
    try {
      utimesSync(this.#own, now, now);
    } catch (error) {
      // Removed by a temp cleaner, say: written again, which dates it now.
      if (errno(error) !== 'ENOENT') throw error;
      this.#writeOwn();
    }
  }

  /** Makes `path` a link to this handle's content: true when it did, false when `path` exists. */
  link(path: string): boolean {
    try {
      linkSync(this.#own, path);
      return true;
    } catch (error) {
      if (errno(error) === 'EEXIST') return false;
      // This handle's content file is gone (a temp cleaner, say): written again, and linked.
      if (errno(error) === 'ENOENT' && !existsSync(this.#own)) {
        this.#writeOwn();
        return this.link(path);
      }
      throw error;
    }
  }

  /** Makes `path` this handle's by an atomic rename, whatever it was. */
  replace(path: string): void {
    const mine = this.#aside();
    linkSync(this.#own, mine);
    renameSync(mine, path);
  }

  /** True when `path` is this handle's (a link to its content). */
  holds(path: string): boolean {
    const ino = lstatSync(path, { throwIfNoEntry: false })?.ino;
    // Or a copy of it, under its name: the directory was put back from a copy made while this handle held the lock,
    // and it linked the lock to the copy before it found the directory another. Nobody else links to that name, and
    // left, the lock would name this live process to every other for as long as it lives.
    return this.owns(ino) || (ino !== undefined && lstatSync(this.#own, { throwIfNoEntry: false })?.ino === ino);
  }

  /** True when the inode `ino` is this handle's content. */
  owns(ino: number | undefined): boolean {
    return ino === this.#ino;
  }

  /** Removes `path` when it is this handle's: someone may have removed it meanwhile, and another made it again. */
  drop(path: string): void {
    if (this.holds(path)) unlinkQuiet(path);
  }

  /** Reads a lock file; undefined when there is none. Content and inode come from one descriptor, so they agree. */
  read(path: string): LockFile | undefined {
    const fd = openExisting(path, constants.O_RDONLY);
    if (fd === undefined) return undefined;
    try {
      const { ino, mtimeMs } = fstatSync(fd);
      return { holder: parseHolder(readFileSync(fd, 'utf8')), ino, mtimeMs };
    } finally {
      closeSync(fd);
    }
  }

  /** True when the lock's holder can no longer release it, or cannot be judged and has held it past `staleMs`. */
  abandoned(lock: LockFile): boolean {
    if (closedContents.size > 0 && this.#closedHere(lock.ino)) return true;
    const state = lock.holder === 'unreadable' ? 'unreadable' : liveness(lock.holder, this.#me);
    if (state === 'dead') return true;
    if (state !== 'unreadable' && state !== 'hidden') return false;
    // Dated ahead of this clock (written while a clock was ahead, set back since): its date tells nothing of how long
    // it was held, which must be seen. Else it waited for the clock to catch up with its date (an hour: an hour).
    if (lock.mtimeMs > Date.now() + STEP_MS) return this.#seenHeld(lock);
    return Date.now() - lock.mtimeMs > this.#staleMs && this.#heldLong(lock, state === 'hidden');
  }

  /**
   * Whether `lock`, dated past `staleMs` ago, was held that long. Its time is its holder's wall clock read on this
   * one's: a step forward between the two would make a live holder look stale at once, and its lock be taken in the
   * middle of its commit (two writers). Once a step is seen, the lock must also have been seen unchanged for
   * `staleMs` on the monotonic clock; before, its time is believed (a dead holder's lock goes at once). A step this
   * process has seen, or, for a holder that may live (`hidden`, another container's), one that came before this
   * process began (a container started once NTP set the clock): its lock, dated in this boot, dated before the boot.
   */
  #heldLong(lock: LockFile, mayLive: boolean): boolean {
    const boot = upSince();
    const before = mayLive && lock.holder !== 'unreadable' && lock.holder.boot === this.#me.boot && lock.mtimeMs < boot - STEP_MS;
    return (!before && Math.abs(boot - wallLead) < STEP_MS) || this.#seenHeld(lock);
  }

  /** Whether this handle has seen `lock` unchanged for `staleMs`, on the monotonic clock (first seen now: no). */
  #seenHeld(lock: LockFile): boolean {
    const now = realNow();
    const key = `${lock.ino}:${lock.mtimeMs}`;
    const first = this.#firstSeen.get(key);
    if (first !== undefined) return now - first > this.#staleMs;
    // Bounded: a handle that outlives many holders forgets them (and watches one seen again anew).
    if (this.#firstSeen.size >= 64) this.#firstSeen.clear();
    this.#firstSeen.set(key, now);
    return false;
  }

  /**
   * Removes `path`, judged abandoned as `seen`. Moved aside first and checked: when it is no longer the file judged
   * (a live process made a new one meanwhile), that one is put back rather than lost.
   */
  removeAbandoned(path: string, seen: LockFile): void {
    const aside = this.#aside();
    try {
      renameSync(path, aside);
    } catch (error) {
      if (errno(error) === 'ENOENT') return;
      throw error;
    }
    try {
      if (statSync(aside).ino !== seen.ino) linkSync(aside, path);
    } catch (error) {
      // EEXIST: yet another one was made meanwhile; ENOENT: the aside file was itself cleared as a leftover.
      if (errno(error) !== 'EEXIST' && errno(error) !== 'ENOENT') throw error;
    } finally {
      unlinkQuiet(aside);
    }
  }

  /**
   * True when `ino` is the content of a handle closed in this process: the content file is still there, the same
   * inode (while it is, the inode cannot have been given to another file).
   */
  #closedHere(ino: number): boolean {
    for (const [own, was] of closedContents) {
      const now = lstatSync(own, { throwIfNoEntry: false })?.ino;
      if (now !== was) closedContents.delete(own);
      else if (was === ino) return true;
    }
    return false;
  }

  /** A temp name for this process (cleared as a leftover once it is gone). */
  #aside(): string {
    return join(this.#dir, this.name('tmp'));
  }

  #writeOwn(): void {
    try {
      this.#writeContent();
    } catch (error) {
      // The files of processes that died on a full disk (their lock contents, spare segments) may hold the room this
      // needs: an open clears them only after this write, so once one was killed there no handle could open the queue
      // (nor the command line read it) till someone freed space by hand. They need no lock to go.
      if (!isFull(error)) throw error;
      removeLeftovers(this.#dir, false);
      try {
        this.#writeContent();
      } catch (again) {
        // Still no room: the queue's reserve is there for a full disk to be drained, which needs a handle first.
        if (!isFull(again) || !spendReserve(join(this.#dir, RESERVE_NAME))) throw again;
        this.#writeContent();
      }
    }
  }

  #writeContent(): void {
    const fd = createFile(this.#own, constants.O_WRONLY, this.#mode);
    try {
      writeSync(fd, JSON.stringify(this.#me));
      this.#ino = fstatSync(fd).ino;
    } catch (error) {
      // A full disk takes the file and not its content: an empty one left behind at every try would only fill it more.
      closeQuiet(fd);
      try {
        unlinkQuiet(this.#own);
      } catch {
        // Refused as well: the write's failure is the one to tell.
      }
      throw error;
    }
    closeSync(fd);
  }
}

function parseHolder(text: string): ProcessId | 'unreadable' {
  try {
    const { pid, host, boot, start, ns } = JSON.parse(text) as Partial<ProcessId>;
    if (typeof pid === 'number' && typeof host === 'string') {
      return {
        pid,
        host,
        ...(typeof boot === 'string' && { boot }),
        ...(typeof start === 'number' && { start }),
        ...(typeof ns === 'string' && { ns }),
      };
    }
  } catch {
    // Not a lock this code wrote whole.
  }
  return 'unreadable';
}
