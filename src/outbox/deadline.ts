import { after, type Clock } from '../core/clock.js';

/**
 * The time limit of one attempt (`OutboxOptions.timeoutMs`), on the clock's monotonic reading so that a wall-clock
 * step neither cuts a request short nor lets it run on. It covers everything the attempt waits for: the
 * `headers()` provider, `onBeforeSend`, connecting, the response's headers and its body. At the limit the request
 * is aborted through `signal`, and whatever is still awaited through `race` rejects with a 'TimeoutError'.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #cancel: () => void;
  readonly #ms: number;
  /** What `race` awaits, rejected when the time is up (kept here, not as listeners on the signal: those cost more). */
  readonly #racing = new Set<(error: unknown) => void>();
  /** True once the time is up; a field, not the signal's `aborted`: read on every race, its getters cost more. */
  expired = false;
  /** Why the attempt was stopped, once the time is up or the caller's signal aborted. */
  #stopped: { readonly error: unknown } | undefined;

  /**
   * `caller`: a signal of the caller's that ends the attempt too, with its reason. Listened to here, not followed
   * by `signal` through AbortSignal.any or a Request: a following signal is held weakly, and once collected an
   * abort never reaches it.
   */
  constructor(clock: Clock, ms: number, caller?: AbortSignal) {
    this.#ms = ms;
    const timer = after(clock, ms, () => {
      this.expired = true;
      this.#stop(this.error());
    });
    if (!caller) {
      this.#cancel = timer;
      return;
    }
    const abort = () => this.#stop(caller.reason);
    caller.addEventListener('abort', abort, { once: true });
    this.#cancel = () => {
      timer();
      caller.removeEventListener('abort', abort);
    };
    if (caller.aborted) abort();
  }

  #stop(error: unknown): void {
    // Nothing more to listen for: a caller's signal that lives on (one per app) must not keep this attempt.
    this.#cancel();
    this.#stopped = { error };
    this.#controller.abort(error);
    for (const reject of this.#racing) reject(error);
    this.#racing.clear();
  }

  /** Aborts the request once the time is up or the caller's signal aborts. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The error an attempt that ran out of time ends with (a DOMException, as fetch's own timeouts are). */
  error(): DOMException {
    return new DOMException(`No response within ${this.#ms} ms.`, 'TimeoutError');
  }

  /**
   * Settles as `work` does, or rejects with the timeout when the time is up first (with the caller's reason when its
   * signal aborts first): for what the abort signal cannot stop (a user's hook, a transport that ignores the signal).
   * `work` runs on; its result is dropped, or handed to `late` when it comes after the limit (a response whose body
   * must be let go). Its failure is dropped too: a read of a body the abort errored must not go unhandled.
   */
  race<T>(work: Promise<T> | T, late?: (value: T) => void): Promise<T> {
    if (this.#stopped) {
      void Promise.resolve(work).then(late, () => undefined);
      return Promise.reject(this.#stopped.error);
    }
    return new Promise<T>((resolve, reject) => {
      const giveUp = late
        ? (error: unknown) => {
            reject(error);
            void Promise.resolve(work).then(late, () => undefined);
          }
        : reject;
      this.#racing.add(giveUp);
      Promise.resolve(work).then(
        (value) => {
          this.#racing.delete(giveUp);
          resolve(value);
        },
        (error: unknown) => {
          this.#racing.delete(giveUp);
          reject(error);
        },
      );
    });
  }

  /** The attempt is over: no abort after this. */
  end(): void {
    this.#cancel();
  }
}

/** True for the error an attempt's time limit ended it with. */
export function isTimeout(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'TimeoutError';
}
