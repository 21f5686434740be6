import { join } from 'node:path';
import { realNow } from '../../core/real-timers.js';
import { LockFiles } from './lock-files.js';
import { IdleOffer } from './lock-idle.js';
import { AFFINITY_MS, LockWait, SLICE_MS } from './lock-wait.js';

// A kept lock is given up by the platform's own `setImmediate`, taken at load: under fake timers in the app's tests,
// another handle of the queue would wait for it for good (see real-timers.ts).
const giveUpSoon = setImmediate;
const keepNoLonger = clearImmediate;

/**
 * The locks of this process kept past a commit (see `ProcessLock.keep`). A task can last long: a loop of commits
 * whose file calls are synchronous goes from microtask to microtask and never reaches the end of its task, so a
 * lock kept on one directory would stay held while the loop works on others (a partitioned queue's other partitions,
 * another queue), and every other process would wait for the loop to end. Taking the lock of one directory gives up
 * those kept on others (one kept on the same directory by another handle of this process keeps it off, as it keeps
 * off other processes: that handle may be about to commit).
 */
const keptLocks = new Set<ProcessLock>();

/**
 * A lock between processes on one queue directory: a `lock` file linked to its holder's lock content (see
 * `LockFiles`). It is held per commit, so processes interleave.
 *
 * Waiting: a handle that finds the lock taken waits in line for its turn (see `LockWait`), and a live handle's
 * pending turn keeps every other handle off the lock but the holder in its slice: a handle that commits again and
 * again may go on taking the lock between its commits for `SLICE_MS` while others wait. Handing the lock over at
 * every release costs more than it gives: each hand-over wakes a process, which reads what the others committed before
 * it plans, and under 'strict' every process's sync runs into the others' writes. The turn's holder takes the lock once
 * the holder's slice is over, or once the lock has lain free `AFFINITY_MS` (its holder is done): a waiter waits about a
 * slice per handle ahead of it, and a process that takes the lock in a loop starves nobody. A holder dates its lock
 * content as each run of holds begins (see `LockFiles.touch`), so the waiter knows how much of the slice is left,
 * however late it came. The first hold after a wait is given up at the end of the task, and the slice counts from there
 * (see `release`): that hold reads what the others committed, and a take's ack that found the slice spent by it would
 * wait a whole round. A lock so kept is offered to the waiters meanwhile (see `IdleOffer`): the caller's code runs
 * before the end of the task, and may compute for long.
 *
 * Cost: a look for a pending turn, a `link` and an `unlink`, about 15 µs on a local disk, so holding it per commit
 * is affordable (pushes are group-committed: a busy process takes it once per batch, not per item).
 */
export class ProcessLock {
  readonly #path: string;
  readonly #files: LockFiles;
  readonly #idle: IdleOffer;
  /** Taking the lock from other handles: the line, the turn, takeovers of the dead, the timeout. */
  readonly #wait: LockWait;
  /** The lock is held past a commit, to be given up at the end of this task unless taken again first (see `keep`). */
  #kept: NodeJS.Immediate | undefined;
  /** The lock kept is offered to the waiters (see `IdleOffer`). */
  #offered = false;
  /** Giving up a kept lock failed: the lock file is still this handle's, and the next `acquire` takes it as is. */
  #stuck = false;
  /** The timer that gives a stuck lock up again (see `#releaseLater`). */
  #unstick: ReturnType<typeof setTimeout> | undefined;
  /** Whether `acquire` says 'kept' of a lock kept (see `keep`), or 'taken' (a hold after a wait, see `release`). */
  #sayKept = true;
  /** The current hold began after a wait: its release is put off to the end of the task (see `release`). */
  #waited = false;
  /** This handle's current run of holds (see `SLICE_MS`): when it began, and when the lock was last given up. */
  #run: { since: number; last: number } | undefined;

  /** Monotonic milliseconds: slices and turns are timed by it. */
  readonly #now: () => number;

  /** Lock files are made with `mode` (see `FileStoreOptions.mode`); `now` is replaced by tests. */
  constructor(dir: string, timeoutMs: number, staleMs: number, mode: number, now: () => number = realNow) {
    this.#now = now;
    this.#path = join(dir, 'lock');
    this.#files = new LockFiles(dir, staleMs, mode);
    this.#idle = new IdleOffer(dir, this.#files);
    this.#wait = new LockWait(dir, timeoutMs, this.#files, this.#idle, now, (stolen) => this.#began(stolen));
  }

  /** Gives up a lock kept (see `keep`), and removes this handle's lock content file. */
  dispose(): void {
    clearTimeout(this.#unstick);
    try {
      if (this.#kept) this.#giveUpKept();
      if (this.#stuck) this.#giveUpStuck();
    } finally {
      // Also when the lock could not be given up: a lock left linked to a content file that stays is known as
      // abandoned to this process's later handles (see LockFiles).
      this.#files.dispose();
    }
  }

  /**
   * Takes the lock, waiting for a live holder up to the timeout ('ERR_LOCKED' naming its pid after that). Resolves
   * 'kept' when this handle held it still (see `keep`), 'stolen' when it was taken over from a dead holder, whose
   * commit may be half done.
   */
  async acquire(): Promise<'taken' | 'kept' | 'stolen'> {
    for (const other of keptLocks) if (other.#path !== this.#path) other.#giveUpKept();
    if (this.#kept || this.#stuck) {
      // Stuck since a release the directory refused, it may have been idle for long: dated now, as a run of holds is.
      const idle = this.#stuck && !this.#kept;
      keptLocks.delete(this);
      keepNoLonger(this.#kept);
      this.#kept = undefined;
      // Stuck until known: a withdrawal that fails is tried again by the next call.
      this.#stuck = true;
      const still = this.#withdrawn() && this.#files.holds(this.#path);
      this.#stuck = false;
      // Still this handle's, unless a waiter took it over, or someone removed it meanwhile (and another may hold it).
      if (still) {
        if (idle) {
          try {
            this.#files.touch();
          } catch {
            // Refused as the removal was: the lock stays this handle's, dated when its run began.
          }
        }
        return this.#sayKept ? 'kept' : 'taken';
      }
    }
    // Uncontended, or in this handle's slice: the lock is free, and no other handle's turn pends or it may wait.
    const now = this.#now();
    const run = this.#run;
    const inSlice = run !== undefined && now - run.last < AFFINITY_MS && now - run.since < SLICE_MS;
    if (inSlice ? this.#files.link(this.#path) : this.#wait.takeFree()) {
      if (!inSlice) this.#run = { since: now, last: now };
      return 'taken';
    }
    return (await this.#wait.take()) ? 'stolen' : 'taken';
  }

  /**
   * Gives the lock up. Only its holder calls this, and a live holder's lock is never taken over; but someone may
   * have removed the file meanwhile and another process taken the lock: theirs stays.
   */
  release(): void {
    const now = this.#now();
    if (this.#waited) {
      // The first hold after a wait reads what the others committed meanwhile, and may end when the slice that began
      // with it would: given up at the end of the task instead, so that a commit that follows at once (a take's ack)
      // is made in the same hold rather than a round of the others later, and the slice counts from here.
      this.#waited = false;
      if (this.#run) this.#run.since = now;
      this.#defer(false);
      return;
    }
    if (this.#run) this.#run.last = now;
    try {
      this.#files.drop(this.#path);
    } catch (error) {
      // The directory refuses the removal (read-only, immutable): the lock file is still this handle's, and its next
      // `acquire` must take it as is, not wait on itself (and every other process with it) for good.
      this.#stuck = true;
      this.#sayKept = true;
      this.#releaseLater();
      throw error;
    }
  }

  /** Gives up a lock stuck by a refused removal (see `#stuck`); throws, stuck again, should the removal be refused. */
  #giveUpStuck(): void {
    this.#stuck = false;
    this.#waited = false;
    if (this.#withdrawn()) this.release();
  }

  /**
   * A lock stuck by a refused removal is given up again soon, by itself (then at most every few seconds, while refused):
   * a handle that makes no call after must not keep every other process out (ERR_LOCKED) for as long as it idles.
   */
  #releaseLater(waitMs = 100): void {
    clearTimeout(this.#unstick);
    this.#unstick = setTimeout(() => {
      this.#unstick = undefined;
      // Taken again by a call meanwhile (which gives it up), or given up already.
      if (!this.#stuck || this.#kept) return;
      try {
        this.#giveUpStuck();
      } catch {
        this.#stuck = true;
        this.#releaseLater(Math.min(waitMs * 2, 5000));
      }
    }, waitMs);
    this.#unstick.unref?.();
  }

  /**
   * Gives the lock up at the end of this task (a macrotask later), unless this handle takes it again first: then it
   * has held it throughout. For a handle whose commit found its view stale: it reads the store again and commits
   * at once, and holding the lock meanwhile means that commit finds its view current, instead of losing the race
   * again to the processes that committed while it read and planned.
   */
  keep(): void {
    this.#waited = false;
    this.#defer(true);
  }

  /** Gives the lock up at the end of this task, unless this handle takes it again first (then `acquire` says `say`). */
  #defer(say: boolean): void {
    this.#sayKept = say;
    keptLocks.add(this);
    this.#offered = this.#idle.offer();
    this.#kept = giveUpSoon(() => this.#giveUpKept());
  }

  /** Gives up the lock kept (see `#defer`) now, unless a waiter took it over. */
  #giveUpKept(): void {
    keptLocks.delete(this);
    keepNoLonger(this.#kept);
    this.#kept = undefined;
    try {
      if (!this.#withdrawn()) return;
      this.release();
    } catch {
      // The directory refuses the removal (read-only, say): still this handle's, given up by its next call or soon.
      this.#stuck = true;
      this.#releaseLater();
    }
  }

  /**
   * False when a waiter claimed the offer of the lock kept (see `IdleOffer`): the lock is theirs, and its file is left
   * to them (unless that waiter was killed before it took it). An offer that cannot be withdrawn (the directory
   * refuses) stays standing, and the call throws.
   */
  #withdrawn(): boolean {
    if (!this.#offered) return true;
    const withdrawn = this.#idle.withdraw() || !this.#idle.takenOver();
    this.#offered = false;
    return withdrawn;
  }

  /** The lock was taken after a wait: this handle's slice begins (counted from the end of this hold, see `release`). */
  #began(stolen: boolean): boolean {
    const now = this.#now();
    this.#run = { since: now, last: now };
    // A takeover is rare, and its first hold repairs what the dead holder left: it ends as any.
    this.#waited = !stolen;
    return stolen;
  }
}
