import { after, type Clock } from '../core/clock.js';
import { check, optional, optionsObject, withMethods } from '../core/validate.js';

/** Options of `Outbox.whenDrained`. */
export interface WhenDrainedOptions {
  /**
   * Gives up waiting at the abort: the promise rejects with the signal's reason (`AbortSignal.timeout(ms)` bounds the
   * wait). Nothing else is stopped.
   * @default undefined: waits until nothing is pending, or the outbox closes
   */
  readonly signal?: AbortSignal | undefined;
}

interface Waiter {
  /** The last count started when it came: only a count started after may resolve it. */
  readonly since: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * The outbox's `whenDrained` waits. They resolve once a count of the pending tasks reads 0: at once, or after a
 * 'change' or 'drained' of the outbox. Counting after every such event, not waiting for 'drained' alone, covers an
 * outbox empty already (it says no 'drained' then) and one that other handles drain (their commits come here as
 * 'change'). One count runs at a time for every wait, and one listener of each kind is added however many wait (Node
 * warns past ten); a wait is resolved only by a count started after it came, so a task stored before it is counted.
 *
 * While any wait is on, a timer is held, as a queue's `iterate` does while it waits: the store's change notices keep no
 * Node process alive, and a script that waits for another process to deliver what it stored would otherwise exit.
 */
export class DrainWaits {
  readonly #outbox: EventTarget;
  readonly #size: () => Promise<number>;
  readonly #clock: () => Clock;
  readonly #waiters = new Set<Waiter>();
  #hold: (() => void) | undefined;
  #started = 0;
  #counting = false;
  #again = false;
  #closed: { reason: unknown } | undefined;

  /** `size`: the tasks pending in the store (in flight included), whichever handle stored them. */
  constructor(outbox: EventTarget, size: () => Promise<number>, clock: () => Clock) {
    this.#outbox = outbox;
    this.#size = size;
    this.#clock = clock;
  }

  wait(options: WhenDrainedOptions | undefined): Promise<void> {
    const { signal } = optionsObject(options, 'options', ['signal']);
    check({ signal }, { signal: optional(withMethods('throwIfAborted')) });
    if (this.#closed) return Promise.reject(this.#closed.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const aborted = () => this.#leave(waiter) && reject(signal!.reason);
      const waiter: Waiter = {
        since: this.#started,
        resolve: () => (signal?.removeEventListener('abort', aborted), resolve()),
        reject: (reason) => (signal?.removeEventListener('abort', aborted), reject(reason)),
      };
      signal?.addEventListener('abort', aborted);
      if (this.#waiters.size === 0) this.#listen(true);
      this.#waiters.add(waiter);
      this.#count();
    });
  }

  /** The outbox closes: every wait rejects with `reason` (its 'ERR_CLOSED'), and so does every wait after. */
  close(reason: unknown): void {
    this.#closed = { reason };
    for (const waiter of this.#drop()) waiter.reject(reason);
  }

  readonly #count = (): void => {
    if (this.#counting) {
      this.#again = true;
      return;
    }
    this.#counting = true;
    this.#again = false;
    const id = ++this.#started;
    this.#size().then(
      (n) => {
        this.#counting = false;
        if (n === 0) for (const waiter of this.#waiters) if (waiter.since < id && this.#leave(waiter)) waiter.resolve();
        if (this.#again && this.#waiters.size > 0) this.#count();
      },
      (reason: unknown) => {
        this.#counting = false;
        for (const waiter of this.#drop()) waiter.reject(reason);
      },
    );
  };

  /** Takes `waiter` out (false if it was out already), and stops listening once none is left. */
  #leave(waiter: Waiter): boolean {
    if (!this.#waiters.delete(waiter)) return false;
    if (this.#waiters.size === 0) this.#listen(false);
    return true;
  }

  #drop(): Waiter[] {
    const all = [...this.#waiters];
    this.#waiters.clear();
    if (all.length > 0) this.#listen(false);
    return all;
  }

  #listen(on: boolean): void {
    for (const type of ['change', 'drained']) (on ? this.#outbox.addEventListener : this.#outbox.removeEventListener).call(this.#outbox, type, this.#count);
    this.#hold?.();
    this.#hold = on ? after(this.#clock(), Infinity, () => undefined) : undefined;
  }
}
