import { SluiceError } from '../../core/errors.js';

/** The part of the Web Locks API (`navigator.locks`) the store uses. */
export interface Locks {
  request(name: string, options: { readonly signal?: AbortSignal; readonly mode?: 'exclusive' | 'shared' }, callback: () => unknown): Promise<unknown>;
  query(): Promise<{ held?: { name?: string; mode?: string }[]; pending?: { name?: string; mode?: string }[] }>;
}

/**
 * How long a holder keeps the lock after its last commit. Long enough that commits following each other (a loop of
 * awaited pushes, a drain) keep it; short enough that a tab frozen or gone quiet right after a commit cannot keep
 * others waiting long. Asking (below) takes it over sooner.
 */
const IDLE_MS = 100;
/**
 * How often a handle waiting for the lock asks the holder again: an ask can reach the holder while it hands the
 * lock over to someone else, and then it would keep the lock it takes back for as long as it stays busy.
 */
const ASK_MS = 50;
/**
 * The least a write waits for the lock, whatever `blockedTimeoutMs` (which a short value shortens for a blocked
 * upgrade): a busy holder hands it over within its commit and an ask, so this is only reached by one that never lets go.
 */
const LOCK_WAIT_MIN_MS = 2_000;

/**
 * One queue's writer lock: a Web Lock that a handle holds across its commits, so that while it holds it, no other
 * handle (tab, worker) commits and what the handle knows is stored is exact: a push is then one put in one
 * transaction, with no read and no check. Asking for the lock is the costly part (about as much as a transaction),
 * so it is kept: released when the handle has committed nothing for `IDLE_MS`, closes or dies (the browser
 * releases a dead context's locks), or hands it over at once when another handle asks (`asked`, through the
 * queue's BroadcastChannel) and its last commit wrote.
 */
export class WriterLock {
  /** Counts the grants: what a handle checked under one grant holds until the lock is released. */
  tenure = 0;
  held = false;
  readonly #locks: Locks;
  readonly #name: string;
  readonly #ask: () => void;
  readonly #letGo: (() => Promise<void>) | undefined;
  /** How long `acquire` waits for a holder that does not let go: at least `LOCK_WAIT_MIN_MS`. */
  readonly #waitMs: number;
  /** The current (or last) grant's end, once the holder let go and `letGo` ran. */
  #ended: Promise<void> = Promise.resolve();
  #busy = false;
  #wanted = false;
  #wrote = false;
  #closed = false;
  /** Ends the current grant: `letGo` runs first unless `held` is false (the lock was taken away, see `restored`). */
  #release: ((held: boolean) => void) | undefined;
  #waiting: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idleSince = 0;

  /**
   * `letGo` runs each time the holder lets go, while the lock is still its own (it must not throw). `waitMs`: how
   * long `acquire` waits for a holder that does not let go ('ERR_LOCKED' after that).
   */
  constructor(locks: Locks, name: string, ask: () => void, letGo?: () => Promise<void>, waitMs = Infinity) {
    this.#locks = locks;
    this.#name = name;
    this.#ask = ask;
    this.#letGo = letGo;
    this.#waitMs = Math.max(waitMs, LOCK_WAIT_MIN_MS);
  }

  /** Begins a commit: true when this handle holds the lock already (else `acquire` it). Held at least until `done`. */
  enter(): boolean {
    this.#busy = true;
    return this.held;
  }

  /** Resolves once this handle holds the lock (after `enter`). */
  async acquire(): Promise<void> {
    while (!this.held) {
      if (this.#closed) throw new DOMException('The queue storage is closed.', 'InvalidStateError');
      await (this.#waiting ??= this.#request());
    }
  }

  /** The commit that `enter` began has ended; `wrote` when it changed what is stored. */
  done(wrote: boolean): void {
    this.#busy = false;
    this.#wrote = wrote;
    // A commit that found the view stale is retried at once, reloaded: keep the lock for it, else two handles that
    // keep asking could each give it away before getting anything done.
    if (wrote && this.#wanted) return this.release();
    // One timer for a run of commits, not one per commit: a push is short enough for a timer to show.
    this.#idleSince = performance.now();
    this.#timer ??= setTimeout(this.#check, IDLE_MS);
  }

  /** Another handle asks for the lock. */
  asked(): void {
    if (!this.held && !this.#waiting) return;
    this.#wanted = true;
    if (this.held && !this.#busy && this.#wrote) this.release();
  }

  release(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.held = false;
    this.#wanted = false;
    this.#release?.(true);
    this.#release = undefined;
  }

  /**
   * Back from the back/forward cache, where the platform let the lock go unasked: held no longer, and let go without
   * `letGo`, which must not write without the lock. The next commit asks for it again (see page-restore.ts).
   */
  restored(): void {
    if (!this.held) return;
    // Ended all the same, should the platform have kept it after all: no other tab would ever get it.
    const release = this.#release;
    this.#release = undefined;
    this.release();
    release?.(false);
  }

  /** Lets go for good; resolves once the last grant ended. */
  close(): Promise<void> {
    this.#closed = true;
    this.release();
    return this.#ended;
  }

  /** Releases the lock once no commit has run for `IDLE_MS`; a running commit re-arms this when it ends. */
  readonly #check = (): void => {
    this.#timer = undefined;
    if (!this.held || this.#busy) return;
    // On the monotonic clock: the wall clock set back (NTP, a VM resumed) would keep the lock, and every other tab
    // waiting, for as long as it stepped.
    const left = this.#idleSince + IDLE_MS - performance.now();
    if (left > 0) this.#timer = setTimeout(this.#check, left);
    else this.release();
  };

  #request(): Promise<void> {
    return new Promise<void>((granted, failed) => {
      this.#ask();
      const asking = setInterval(this.#ask, ASK_MS);
      // A holder that never lets go (a tab the browser froze runs no timer, and hears no ask): the wait is given up.
      const giveUp = this.#waitMs === Infinity ? undefined : new AbortController();
      const timer = giveUp && setTimeout(() => giveUp.abort(this.#locked()), this.#waitMs);
      const stop = () => {
        clearInterval(asking);
        clearTimeout(timer);
        this.#waiting = undefined;
      };
      let tenure = -1;
      this.#locks
        .request(this.#name, giveUp ? { signal: giveUp.signal } : {}, () => {
          stop();
          granted();
          if (this.#closed) return Promise.resolve();
          this.held = true;
          tenure = ++this.tenure;
          this.#wanted = this.#wrote = false;
          return (this.#ended = new Promise<boolean>((resolve) => (this.#release = resolve)).then(async (held) => {
            if (held) await this.#letGo?.();
          }));
        })
        .catch((error: unknown) => {
          stop();
          // Rejected after the grant: stolen (another script asked with `steal`), and the platform let it go unasked,
          // as the back/forward cache does. Unless a later grant came meanwhile, this one is not held any more.
          if (tenure === this.tenure) this.restored();
          // Given up: rejected with the reason (as Web Locks do), or an AbortError where a platform drops it.
          failed(giveUp?.signal.aborted && tenure < 0 ? ((giveUp.signal.reason as unknown) ?? this.#locked()) : error);
        });
    });
  }

  #locked(): SluiceError {
    return new SluiceError(
      'ERR_LOCKED',
      `Another tab or worker holds the writer lock "${this.#name}" and does not let it go (a background tab the browser froze, or a script holding it); waited ${this.#waitMs} ms (blockedTimeoutMs, at least 2 s). Nothing was written; the next call asks again.`,
    );
  }
}
