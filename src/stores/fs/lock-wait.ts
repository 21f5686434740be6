import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import type { LockFile, LockFiles } from './lock-files.js';
import type { IdleOffer } from './lock-idle.js';
import { LockLine } from './lock-line.js';
import { LockNotices } from './lock-notices.js';
import { liveness } from './process-id.js';

/**
 * The time slice: a handle that commits again and again may go on taking the lock between its commits for this long
 * while others wait, before the next waiter's turn comes.
 */
export const SLICE_MS = 10;
/** A lock given up and not taken again for this long: its holder is done, and the next waiter takes it. */
export const AFFINITY_MS = 3;
/**
 * How long another handle's turn is kept to, at most, while the lock lies free: a claimant whose event loop is busy
 * elsewhere must not hold up every other process.
 */
const TURN_KEPT_MS = 10;
/** The longest sleep between looks at the lock when no change notice comes (network mounts, notices lost). */
const POLL_MS = 10;
/**
 * The longest sleep of a waiter whose turn has not come, when no change notice comes: the turn's notices wake it when
 * the turn passes, and each look that no notice woke judges the holders of the lock and of the turn (their files read,
 * their processes looked up). Woken every `POLL_MS` too, the waiters behind the turn of four processes draining one
 * queue cost about a sixth of the four's main-thread CPU (2.0 s against 1.7 s per drain of 50 000 items), which the
 * lock's holder, most of its hold in the run queue on two cores, then lacked. A turn whose holder died or lets it lie
 * is so passed over up to this much later.
 */
const BEHIND_POLL_MS = 50;

/**
 * How a handle takes a queue directory's lock (see `ProcessLock`) when others hold it or wait for it.
 *
 * A handle that finds the lock taken joins the line of waiters (see `LockLine`), claims the next turn (`lock.turn`,
 * linked to its content like the lock) when it is first in line and the turn is free, and waits. The turn's holder
 * watches the lock (see `LockNotices`) and takes it when it is given up; the other waiters watch the turn, and claim
 * it when it goes; a short poll stands behind the notices (network mounts, notices lost). A live handle's pending
 * turn keeps every other handle off the lock but the holder in its slice (`SLICE_MS`). The turn's holder takes the
 * lock once the holder's slice is over, or once the lock has lain free `AFFINITY_MS` (its holder is done), or once
 * it has lain idle past a slice (see `IdleOffer`).
 *
 * A lock whose holder is provably gone (same host and pid namespace, and an earlier boot, or no such pid, or that pid
 * started at another time: pid 1 of a restarted container) is taken over at once, by an atomic rename, never
 * remove-then-create, which can leave two holders (proper-lockfile #121). Takeovers go one at a time through a
 * `lock.steal` file made the same way; a takeover that was itself killed leaves that file naming a dead process,
 * so it is cleared at once too. Lock files that cannot be judged count as abandoned once their holder began holding
 * them `staleMs` ago (a live holder keeps the lock for one commit): those a power cut left unreadable, and those of a
 * process in another pid namespace on this host (another container), whose pids mean nothing here. A holder on
 * another host is waited for, never taken over. A turn is judged the same way.
 */
export class LockWait {
  readonly #dir: string;
  readonly #path: string;
  readonly #turn: string;
  readonly #guard: string;
  readonly #timeoutMs: number;
  readonly #files: LockFiles;
  readonly #line: LockLine;
  readonly #idle: IdleOffer;
  /** Another handle's pending turn (its inode and change time), and since when the lock lies free while it pends. */
  #seen: { key: string; free: number | undefined } | undefined;
  /** Monotonic milliseconds: slices and turns are timed by it. */
  readonly #now: () => number;
  /**
   * Called as the lock is taken (`stolen`: over from a dead holder), before the wait's turn and ticket are given up:
   * the holder's run of holds begins with the hold, whatever giving them up then meets. Returns `stolen`.
   */
  readonly #taken: (stolen: boolean) => boolean;

  constructor(dir: string, timeoutMs: number, files: LockFiles, idle: IdleOffer, now: () => number, taken: (stolen: boolean) => boolean) {
    this.#dir = dir;
    this.#path = join(dir, 'lock');
    this.#turn = join(dir, 'lock.turn');
    this.#guard = join(dir, 'lock.steal');
    this.#timeoutMs = timeoutMs;
    this.#files = files;
    this.#line = new LockLine(dir, files);
    this.#idle = idle;
    this.#now = now;
    this.#taken = taken;
  }

  /** Takes the lock if it is free and no other handle's turn pends (the uncontended case); false when it did not. */
  takeFree(): boolean {
    return !existsSync(this.#turn) && this.#take();
  }

  /**
   * Waits for the lock and takes it, up to the timeout ('ERR_LOCKED' naming its holder after that). Resolves true
   * when it was taken over from a dead holder.
   */
  async take(): Promise<boolean> {
    // On the monotonic clock: a step of the wall clock (NTP, a laptop waking) must not end the wait at once.
    const deadline = this.#now() + this.#timeoutMs;
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
        const now = this.#now();
        const over = now >= deadline;
        judge ||= over;
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
        // A waiter whose turn has not come sleeps until the turn passes, which its notices tell: the short sleeps
        // are for the turn's holder, which takes the lock when a slice ends (no notice says so).
        let pause = turn === 'theirs' && notices.watching ? BEHIND_POLL_MS : wait;
        // A holder that left the lock idle past a slice (its caller computing between two commits) gives it up.
        const idle = held && mine ? this.#idle.claim(held.ino, now, SLICE_MS) : undefined;
        if (idle === 'claimed') return this.#taken(false);
        if (idle !== undefined) pause = Math.max(1, Math.min(pause, idle));
        if (free !== undefined && turn !== 'theirs') {
          // The holder may take the lock again between its commits for the rest of its slice, so that it commits
          // in a run: the lock is this handle's once the slice is over, or once it has lain free a while (its
          // holder is done). The slice is timed from the holder's lock file (see `LockFiles.touch`), on the
          // holder's clock: bounded, so that clocks that disagree cost at most one slice's wait.
          const sliceLeft = holder ? Math.min(SLICE_MS, Math.max(0, holder.began + SLICE_MS - Date.now())) : 0;
          const due = Math.min(sliceLeft, Math.max(0, AFFINITY_MS - (now - free)));
          if (due === 0 && this.#take()) return this.#taken(false);
          pause = Math.max(due, 1);
        }
        const lock = judge && held ? this.#files.read(this.#path) : undefined;
        if (lock && this.#files.abandoned(lock) && this.#steal(lock)) return this.#taken(true);
        if (over) throw this.#locked(lock);
        // The turn's holder watches the lock, the other waiters the turn. A file watched anew is looked at again
        // before the wait: it may have been given up between the look and the watch.
        const watched = mine ? held : lstatSync(this.#turn, { throwIfNoEntry: false });
        if (notices.watch(mine ? this.#path : this.#turn, watched?.ino) && watched) continue;
        judge = !(await notices.next(Math.max(0, Math.min(pause, deadline - this.#now())))) && held !== undefined;
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
    const seen = holder && holder !== 'unreadable' ? liveness(holder) : undefined;
    const hidden = seen === 'hidden' ? ' in another pid namespace (another container)' : '';
    // Held in this process, by no handle of this thread: a worker thread's that ended while it committed.
    const mine = seen === 'alive' && holder !== 'unreadable' && holder?.pid === process.pid;
    const who =
      holder === 'unreadable'
        ? 'a lock file whose holder cannot be read'
        : holder
          ? `process ${holder.pid} on ${holder.host}${hidden}`
          : 'another process whose turn is pending';
    // What the user can do: only a lock whose holder this host can see dead is taken over at once.
    const advice =
      seen === 'elsewhere'
        ? `A lock of a process on another host is never taken over (whether it lives cannot be seen from here): if it is gone, remove ${this.#dir}/lock.`
        : seen === 'hidden' || holder === 'unreadable'
          ? `If that process is hung, stop it; such a lock is taken over once unchanged for staleMs.`
          : mine
            ? `That is this process: a handle of it holds the lock (a worker thread terminated while it committed leaves it held while the process lives; close a worker's queues before terminating it), or commits for longer than lockTimeoutMs.`
            : `If that process is hung, stop it; a dead process's lock is taken over at once.`;
    return new SluiceError('ERR_LOCKED', `The queue directory ${this.#dir} is locked by ${who}; waited ${this.#timeoutMs} ms (lockTimeoutMs). ${advice}`);
  }
}
