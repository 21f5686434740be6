import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { type LockFile, LockFiles } from './lock-files.js';
import { IdleOffer } from './lock-idle.js';
import { LockLine } from './lock-line.js';
import { LockNotices } from './lock-notices.js';
import { liveness } from './process-id.js';

/**
 * The time slice: a handle that commits again and again may go on taking the lock between its commits for this long
 * while others wait, before the next waiter's turn comes.
 */
const SLICE_MS = 10;
/** A lock given up and not taken again for this long: its holder is done, and the next waiter takes it. */
const AFFINITY_MS = 3;
/**
 * How long another handle's turn is kept to, at most, while the lock lies free: a claimant whose event loop is busy
 * elsewhere must not hold up every other process.
 */
const TURN_KEPT_MS = 10;
/** The longest sleep between looks at the lock when no change notice comes (network mounts, notices lost). */
const POLL_MS = 10;

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
 * Waiting: a handle that finds the lock taken joins the line of waiters (see `LockLine`), claims the next turn
 * (`lock.turn`, linked to its content like the lock) when it is first in line and the turn is free, and waits. The
 * turn's holder watches the lock (see `LockNotices`) and takes it when it is given up; the other waiters watch the
 * turn, and claim it when it goes; a short poll stands behind the notices (network mounts, notices lost). A live
 * handle's pending turn keeps every other handle off the lock but the holder in its slice: a handle that commits again
 * and again may go on taking the lock between its commits for `SLICE_MS` while others wait. Handing the lock over at
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
 * A lock whose holder is provably gone (same host and pid namespace, and an earlier boot, or no such pid, or that pid
 * started at another time: pid 1 of a restarted container) is taken over at once, by an atomic rename, never
 * remove-then-create, which can leave two holders (proper-lockfile #121). Takeovers go one at a time through a
 * `lock.steal` file made the same way; a takeover that was itself killed leaves that file naming a dead process,
 * so it is cleared at once too. Lock files that cannot be judged count as abandoned once their holder began holding
 * them `staleMs` ago (a live holder keeps the lock for one commit): those a power cut left unreadable, and those of a
 * process in another pid namespace on this host (another container), whose pids mean nothing here. A holder on
 * another host is waited for, never taken over. A turn is judged the same way.
 *
 * Cost: a look for a pending turn, a `link` and an `unlink`, about 15 µs on a local disk, so holding it per commit
 * is affordable (pushes are group-committed: a busy process takes it once per batch, not per item).
 */
export class ProcessLock {
  readonly #dir: string;
  readonly #path: string;
  readonly #turn: string;
  readonly #guard: string;
  readonly #timeoutMs: number;
  readonly #files: LockFiles;
  readonly #line: LockLine;
  readonly #idle: IdleOffer;
  /** The lock is held past a commit, to be given up at the end of this task unless taken again first (see `keep`). */
  #kept: NodeJS.Immediate | undefined;
  /** The lock kept is offered to the waiters (see `IdleOffer`). */
  #offered = false;
  /** Giving up a kept lock failed: the lock file is still this handle's, and the next `acquire` takes it as is. */
  #stuck = false;
  /** Whether `acquire` says 'kept' of a lock kept (see `keep`), or 'taken' (a hold after a wait, see `release`). */
  #sayKept = true;
  /** The current hold began after a wait: its release is put off to the end of the task (see `release`). */
  #waited = false;
  /** This handle's current run of holds (see `SLICE_MS`): when it began, and when the lock was last given up. */
  #run: { since: number; last: number } | undefined;
  /** Another handle's pending turn (its inode and change time), and since when the lock lies free while it pends. */
  #seen: { key: string; free: number | undefined } | undefined;

  /** Monotonic milliseconds: slices and turns are timed by it. */
  readonly #now: () => number;

  /** Lock files are made with `mode` (see `FileStoreOptions.mode`); `now` is replaced by tests. */
  constructor(dir: string, timeoutMs: number, staleMs: number, mode: number, now: () => number = () => performance.now()) {
    this.#now = now;
    this.#dir = dir;
    this.#path = join(dir, 'lock');
    this.#turn = join(dir, 'lock.turn');
    this.#guard = join(dir, 'lock.steal');
    this.#timeoutMs = timeoutMs;
    this.#files = new LockFiles(dir, staleMs, mode);
    this.#line = new LockLine(dir, this.#files);
    this.#idle = new IdleOffer(dir, this.#files);
  }

  /** Gives up a lock kept (see `keep`), and removes this handle's lock content file. */
  dispose(): void {
    try {
      if (this.#kept) this.#giveUpKept();
      if (this.#stuck) {
        this.#stuck = false;
        this.#waited = false;
        if (this.#withdrawn()) this.release();
      }
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
      keptLocks.delete(this);
      clearImmediate(this.#kept);
      this.#kept = undefined;
      // Stuck until known: a withdrawal that fails is tried again by the next call.
      this.#stuck = true;
      const still = this.#withdrawn() && this.#files.holds(this.#path);
      this.#stuck = false;
      // Still this handle's, unless a waiter took it over, or someone removed it meanwhile (and another may hold it).
      if (still) return this.#sayKept ? 'kept' : 'taken';
    }
    // Uncontended, or in this handle's slice: the lock is free, and no other handle's turn pends or it may wait.
    const now = this.#now();
    const run = this.#run;
    const inSlice = run !== undefined && now - run.last < AFFINITY_MS && now - run.since < SLICE_MS;
    if (inSlice ? this.#files.link(this.#path) : !existsSync(this.#turn) && this.#take()) {
      if (!inSlice) this.#run = { since: now, last: now };
      return 'taken';
    }
    return (await this.#wait()) ? 'stolen' : 'taken';
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
    this.#files.drop(this.#path);
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
    this.#kept = setImmediate(() => this.#giveUpKept());
  }

  /** Gives up the lock kept (see `#defer`) now, unless a waiter took it over. */
  #giveUpKept(): void {
    keptLocks.delete(this);
    clearImmediate(this.#kept);
    this.#kept = undefined;
    try {
      if (!this.#withdrawn()) return;
      this.release();
    } catch {
      // The directory refuses the removal (read-only, say): still this handle's, given up by its next release.
      this.#stuck = true;
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

  async #wait(): Promise<boolean> {
    const deadline = Date.now() + this.#timeoutMs;
    const notices = new LockNotices();
    let mine = false;
    // A live holder is the likely case: the holder is judged (its lock file read, its process looked up) only when
    // no notice came since the last look, or when the wait is over.
    let judge = false;
    /** Since when the lock lies free, as seen from here. */
    let free: number | undefined;
    /** The holder as last seen: the inode of its lock content, and when its run of holds began (wall clock). */
    let holder: { ino: number; began: number } | undefined;
    /** Since when the next turn lies free, as seen from here. */
    let turnFree: number | undefined;
    this.#line.join();
    try {
      for (let wait = 1; ; wait = Math.min(wait * 2, POLL_MS)) {
        const over = Date.now() >= deadline;
        judge ||= over;
        const now = this.#now();
        let turn = this.#turnNow(judge);
        // The next turn is the first waiter's in line (see `LockLine`): only it watches the lock; the others wait for
        // the turn to pass. One that lets the free turn lie (its event loop busy elsewhere, say) is passed over. The
        // tickets of the dead are judged once the turn has lain free a while, before it passes on: a waiter whose looks
        // came late (a loaded machine) still clears them before it goes.
        if (turn !== 'free') {
          turnFree = undefined;
        } else {
          const lain = now - (turnFree ??= now);
          if (!this.#line.first(judge || lain > AFFINITY_MS) && lain <= TURN_KEPT_MS) turn = 'theirs';
          else if (this.#files.link(this.#turn)) {
            turn = 'mine';
            this.#line.leave();
          }
        }
        mine = turn === 'mine';
        const held = lstatSync(this.#path, { throwIfNoEntry: false });
        if (held) holder = { ino: held.ino, began: held.mtimeMs };
        free = held ? undefined : (free ?? now);
        let pause = wait;
        // A holder that left the lock idle past a slice (its caller computing between two commits) gives it up.
        const idle = held && mine ? this.#idle.claim(held.ino, now, SLICE_MS) : undefined;
        if (idle === 'claimed') return this.#began(false);
        if (idle !== undefined) pause = Math.max(1, Math.min(pause, idle));
        if (free !== undefined && turn !== 'theirs') {
          // The holder may take the lock again between its commits for the rest of its slice, so that it commits
          // in a run: the lock is this handle's once the slice is over, or once it has lain free a while (its
          // holder is done). The slice is timed from the holder's lock file (see `LockFiles.touch`), on the
          // holder's clock: bounded, so that clocks that disagree cost at most one slice's wait.
          const sliceLeft = holder ? Math.min(SLICE_MS, Math.max(0, holder.began + SLICE_MS - Date.now())) : 0;
          const due = Math.min(sliceLeft, Math.max(0, AFFINITY_MS - (now - free)));
          if (due === 0 && this.#take()) return this.#began(false);
          pause = Math.max(due, 1);
        }
        const lock = judge && held ? this.#files.read(this.#path) : undefined;
        if (lock && this.#files.abandoned(lock) && this.#steal(lock)) return this.#began(true);
        if (over) throw this.#locked(lock);
        // The turn's holder watches the lock, the other waiters the turn. A file watched anew is looked at again
        // before the wait: it may have been given up between the look and the watch.
        const watched = mine ? held : lstatSync(this.#turn, { throwIfNoEntry: false });
        if (notices.watch(mine ? this.#path : this.#turn, watched?.ino) && watched) continue;
        judge = !(await notices.next(Math.max(0, Math.min(pause, deadline - Date.now())))) && held !== undefined;
      }
    } finally {
      notices.close();
      // Taken or given up: either way the turn is over, and this handle out of the line.
      this.#line.leave();
      if (mine) this.#files.drop(this.#turn);
    }
  }

  /** Takes the free lock for a run of holds, dated now (see `LockFiles.touch`). */
  #take(): boolean {
    this.#files.touch();
    return this.#files.link(this.#path);
  }

  /** The lock was taken after a wait: this handle's slice begins (counted from the end of this hold, see `release`). */
  #began(stolen: boolean): boolean {
    const now = this.#now();
    this.#run = { since: now, last: now };
    // A takeover is rare, and its first hold repairs what the dead holder left: it ends as any.
    this.#waited = !stolen;
    return stolen;
  }

  /**
   * Whose turn is pending: this handle's, another's (to be kept to), or nobody's. Another handle's turn is not kept
   * to once the lock has lain free for `TURN_KEPT_MS` while it pends, nor when `judge` finds its holder gone (it is
   * then removed).
   */
  #turnNow(judge: boolean): 'mine' | 'theirs' | 'free' {
    const stat = lstatSync(this.#turn, { throwIfNoEntry: false });
    if (!stat) {
      this.#seen = undefined;
      return 'free';
    }
    if (this.#files.owns(stat.ino)) return 'mine';
    const key = `${stat.ino}:${stat.ctimeMs}`;
    const now = this.#now();
    if (this.#seen?.key !== key) this.#seen = { key, free: undefined };
    if (existsSync(this.#path)) this.#seen.free = undefined;
    else if (now - (this.#seen.free ??= now) > TURN_KEPT_MS) return 'free';
    if (judge) {
      const turn = this.#files.read(this.#turn);
      if (turn && this.#files.abandoned(turn)) {
        this.#files.removeAbandoned(this.#turn, turn);
        return 'free';
      }
    }
    return 'theirs';
  }

  /** Takes over the abandoned `dead` lock, unless another process is doing so or did. */
  #steal(dead: LockFile): boolean {
    if (!this.#files.link(this.#guard)) {
      const guard = this.#files.read(this.#guard);
      if (guard && this.#files.abandoned(guard)) this.#files.removeAbandoned(this.#guard, guard);
      return false;
    }
    try {
      // The one stealer checks again: the lock may have changed hands since it was judged abandoned (same inode
      // and same holder: an inode freed meanwhile could be reused by a new lock file).
      const now = this.#files.read(this.#path);
      if (!now || now.ino !== dead.ino || JSON.stringify(now.holder) !== JSON.stringify(dead.holder)) return false;
      this.#files.touch();
      this.#files.replace(this.#path);
      return true;
    } finally {
      this.#files.drop(this.#guard);
    }
  }

  #locked(lock: LockFile | undefined): SluiceError {
    const { holder } = lock ?? {};
    const hidden = holder && holder !== 'unreadable' && liveness(holder) === 'hidden' ? ' in another pid namespace (another container)' : '';
    const who =
      holder === 'unreadable'
        ? 'a lock file whose holder cannot be read'
        : holder
          ? `process ${holder.pid} on ${holder.host}${hidden}`
          : 'another process whose turn is pending';
    return new SluiceError(
      'ERR_LOCKED',
      `The queue directory ${this.#dir} is locked by ${who}; waited ${this.#timeoutMs} ms (lockTimeoutMs). ` +
        `If that process is hung, stop it; a dead process's lock is taken over at once.`,
    );
  }
}
