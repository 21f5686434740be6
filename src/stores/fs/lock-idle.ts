import { lstatSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { errno, unlinkQuiet } from './files.js';
import { leftover } from './leftovers.js';
import type { LockFiles } from './lock-files.js';
import { isDead, thisProcess } from './process-id.js';

/** The offer's file name in the queue directory. */
const OFFER = 'lock.idle';

/**
 * A held lock left idle between two commits (see `ProcessLock.keep`), offered to the waiters: `lock.idle`, a link to
 * the holder's lock content, says its holder is not committing. The holder keeps the lock so for the commit that
 * usually follows (a take's ack), but the code that runs meanwhile is the caller's, and may compute for seconds
 * without letting the holder run: the waiter whose turn it is takes the lock over once it has lain idle that long.
 *
 * The offer is the token of the hand-over: the holder withdraws it (removes it) before its next commit, a waiter
 * claims it (moves it aside) before it takes the lock over, and only one of the two can succeed. A holder that lost
 * its offer leaves the lock file alone: the waiter that claimed it replaces it, unless it was killed in between.
 */
export class IdleOffer {
  readonly #dir: string;
  readonly #path: string;
  readonly #lock: string;
  readonly #files: LockFiles;
  /**
   * The offer this waiter saw, and since when (monotonic ms). Told by its inode and change time: a holder that
   * withdraws its offer and makes another (it committed between) links its content again, which changes that time.
   */
  #seen: { key: string; since: number } | undefined;

  constructor(dir: string, files: LockFiles) {
    this.#dir = dir;
    this.#path = join(dir, OFFER);
    this.#lock = join(dir, 'lock');
    this.#files = files;
  }

  /**
   * Removes an offer in `dir` that is not of the lock as it is now (call it under the lock, with the leftovers): its
   * holder was killed while it kept the lock, and what the offer links to is a dead process's.
   */
  static removeStale(dir: string): void {
    const path = join(dir, OFFER);
    const offer = lstatSync(path, { throwIfNoEntry: false });
    if (offer && offer.ino !== lstatSync(join(dir, 'lock'), { throwIfNoEntry: false })?.ino) unlinkQuiet(path);
  }

  /** Offers this handle's lock, which it holds. False when it cannot (then the lock is kept as it is). */
  offer(): boolean {
    try {
      if (this.#files.link(this.#path)) return true;
      // Left by a holder that died while it kept the lock: only the lock's holder offers it, and that is this handle.
      unlinkQuiet(this.#path);
      return this.#files.link(this.#path);
    } catch {
      // A directory that refuses the link (read-only, say): kept without an offer.
      return false;
    }
  }

  /** Withdraws the offer before this handle's next commit: false when a waiter claimed it, and the lock is theirs. */
  withdraw(): boolean {
    if (!this.#files.holds(this.#path)) return false;
    try {
      unlinkSync(this.#path);
      return true;
    } catch (error) {
      if (errno(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /**
   * After `withdraw` found the offer claimed: true when the lock is another's, or about to be (a live waiter claimed
   * the offer and replaces the lock file); false when the lock file is this handle's still and its claimer was
   * killed before it replaced it (the claim, set aside under its name, names a dead process, or was cleared): the
   * lock is then this handle's, which nobody else would ever give up. The claims are looked at before the lock file:
   * a claimer replaces the lock before it removes its claim.
   */
  takenOver(): boolean {
    const own = lstatSync(this.#lock, { throwIfNoEntry: false })?.ino;
    // No lock file: the lock is not this handle's (whoever removed it, the next holder takes it afresh).
    if (own === undefined) return true;
    const here = thisProcess();
    for (const name of readdirSync(this.#dir)) {
      const file = leftover(name, here);
      if (file?.kind !== 'lock' || file.suffix !== 'tmp') continue;
      if (lstatSync(join(this.#dir, name), { throwIfNoEntry: false })?.ino === own && !isDead(file.owner, here)) return true;
    }
    return !this.#files.holds(this.#lock);
  }

  /**
   * For the waiter whose turn it is, while the lock is held as inode `held`: 'claimed' once it took over a lock that
   * has lain idle `ms` (since this waiter saw it offered), else how long to wait for that; undefined when its
   * holder offers nothing.
   */
  claim(held: number, now: number, ms: number): 'claimed' | number | undefined {
    const offered = lstatSync(this.#path, { throwIfNoEntry: false });
    // An offer linking another file than the lock is one left behind: it offers nothing.
    if (offered?.ino !== held) {
      this.#seen = undefined;
      return undefined;
    }
    const key = `${offered.ino}:${offered.ctimeMs}`;
    if (this.#seen?.key !== key) this.#seen = { key, since: now };
    const left = this.#seen.since + ms - now;
    if (left > 0) return left;
    this.#seen = undefined;
    const aside = join(this.#dir, this.#files.name('tmp'));
    try {
      renameSync(this.#path, aside);
    } catch (error) {
      // Withdrawn meanwhile: the holder is committing.
      if (errno(error) === 'ENOENT') return undefined;
      throw error;
    }
    try {
      // The offer claimed is the holder's of the lock as it is now (the holder cannot take it back without it).
      const claimed = lstatSync(aside, { throwIfNoEntry: false })?.ino;
      if (claimed !== lstatSync(this.#lock, { throwIfNoEntry: false })?.ino) return undefined;
      this.#files.replace(this.#lock);
      return 'claimed';
    } finally {
      unlinkQuiet(aside);
    }
  }
}
