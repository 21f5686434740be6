import { untilAborted } from './until-aborted.js';

/** One live try's place in its lane (see `LiveTurns`). */
export interface Turn {
  /**
   * Resolves once the lane's tries made before this one have ended; rejects with the reason of `signal` (the caller's)
   * when it aborts first, as fetch would.
   */
  wait(signal: AbortSignal | undefined): Promise<void>;
  /** Ends this turn (again: nothing): the lane's next try goes once those before this one have ended too. */
  done(): void;
}

const NO_TURN: Turn = { wait: () => Promise.resolve(), done: () => undefined };

/**
 * Live tries of one lane take turns, in the order they were made: one made while another of its lane is out waits
 * until that one is answered or stored. Otherwise the later one could reach the server first, and the earlier one,
 * stored on a network error or a timeout, would be delivered after it (or both stored, the later first): the lane's
 * order would not hold.
 */
export class LiveTurns {
  readonly #last = new Map<string, Promise<void>>();

  /** Takes the next turn of `lane` now, at the call (none without a lane: nothing to keep in order). */
  take(lane: string | undefined): Turn {
    if (lane === undefined) return NO_TURN;
    const before = this.#last.get(lane);
    let end!: () => void;
    const mine = new Promise<void>((resolve) => (end = resolve));
    const last = before ? before.then(() => mine) : mine;
    this.#last.set(lane, last);
    return {
      wait: (signal) => (before ? untilAborted(before, signal) : Promise.resolve()),
      done: () => {
        end();
        void last.then(() => this.#last.get(lane) === last && this.#last.delete(lane));
      },
    };
  }
}
