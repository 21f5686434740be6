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

/** What a drain wait needs of its outbox. */
export interface DrainWatch {
  /** Tasks pending in the store (in flight included), whichever handle stored them. */
  readonly size: () => Promise<number>;
  readonly clock: Clock;
  /** Aborted, with the 'ERR_CLOSED' error, when the outbox closes. */
  readonly closed: AbortSignal;
}

/**
 * Resolves once the store holds no pending task: at once, or when a 'change' or 'drained' of `outbox` is followed by a
 * count of 0. Counting after every such event, not waiting for 'drained' alone, covers an outbox empty already (it
 * says no 'drained' then) and one that other handles drain (their commits come here as 'change'). Counts do not
 * overlap: events during one ask for one more after it.
 *
 * The wait holds a timer, as a queue's `iterate` does while it waits: the store's change notices keep no Node process
 * alive, and a script that waits for another process to deliver what it stored would otherwise exit.
 */
export function drainWait(outbox: EventTarget, options: WhenDrainedOptions | undefined, watch: DrainWatch): Promise<void> {
  const { signal } = optionsObject(options, 'options', ['signal']);
  check({ signal }, { signal: optional(withMethods('throwIfAborted')) });
  const { size, clock, closed } = watch;
  return new Promise<void>((resolve, reject) => {
    let counting = false;
    let again = false;
    const hold = after(clock, Infinity, () => undefined);
    const end = (error?: { reason: unknown }): void => {
      outbox.removeEventListener('change', count);
      outbox.removeEventListener('drained', count);
      signal?.removeEventListener('abort', aborted);
      closed.removeEventListener('abort', aborted);
      hold();
      if (error) reject(error.reason);
      else resolve();
    };
    const aborted = (): void => end({ reason: signal?.aborted ? signal.reason : closed.reason });
    function count(): void {
      if (counting) {
        again = true;
        return;
      }
      counting = true;
      size().then(
        (n) => {
          counting = false;
          if (n === 0) end();
          else if (again) {
            again = false;
            count();
          }
        },
        (reason: unknown) => end({ reason }),
      );
    }
    if (signal?.aborted || closed.aborted) return aborted();
    outbox.addEventListener('change', count);
    outbox.addEventListener('drained', count);
    signal?.addEventListener('abort', aborted);
    closed.addEventListener('abort', aborted);
    count();
  });
}
