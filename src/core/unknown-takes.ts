import type { Clock } from './clock.js';
import { STALE, type CommitView, type Plan } from './commit-view.js';
import { flat, type Op, type QueueState } from './queue-state.js';

/** The first wait before a failed give-back is made again in the background (ms); it doubles up to `LAST_WAIT_MS`. */
const FIRST_WAIT_MS = 500;
const LAST_WAIT_MS = 8_000;

/** What giving back in the background needs of the queue (see `LeasingContext`). */
export interface UnknownTakesContext {
  readonly view: CommitView;
  readonly clock: Clock;
  readonly run: <R>(fn: () => Promise<R>) => Promise<R>;
  readonly wake: () => void;
}

/**
 * Takes given up on with their outcome unknown (a store that answered too late, or not at all: it may have stored the
 * take all the same, then or later, as a paused Redis does once it goes on). Their items would stay leased to nobody
 * until the lease ends: the handle's next takes give back, untried, what they find such a take stored, until it ends;
 * and where the give-back made at once failed too (see `later`), it is made again in the background, for a handle
 * that takes no more (an outbox tab that let its delivery lock go, a flush-only one).
 */
export class UnknownTakes {
  readonly #c: UnknownTakesContext;
  /** Lease id -> when it ends. */
  readonly #ends = new Map<string, number>();
  /** Cancels the timer of the next give-back; set for good once stopped. */
  #cancel: (() => void) | undefined;

  constructor(context: UnknownTakesContext) {
    this.#c = context;
  }

  add(lease: string, until: number): void {
    this.#ends.set(lease, until);
  }

  /** The ops that give back what these takes stored, as `state` has it at `now`. */
  giveBack(state: QueueState, now: number): Op[] {
    const ops: Op[] = [];
    for (const [lease, until] of this.#ends) {
      if (until <= now) {
        this.#ends.delete(lease);
        continue;
      }
      const hold = state.holds.lease(lease);
      if (hold) ops.push(['u', flat(state.holds.pieces(hold)), null, 1]);
    }
    return ops;
  }

  /**
   * Gives back in `ms` (on the queue's clock, keeping no process alive) what these takes stored, committed as a
   * release is; a failure tries again, the wait doubling up to 8 s, until one lands, their leases end or `stop`.
   */
  later(ms = FIRST_WAIT_MS): void {
    if (this.#cancel) return;
    const { clock } = this.#c;
    const handle = clock.setTimeout(() => {
      this.#cancel = undefined;
      if ([...this.#ends.values()].some((until) => until > clock.now())) this.#c.run(() => this.#c.view.commit(() => this.#plan())).catch(() => this.later(Math.min(ms * 2, LAST_WAIT_MS)));
    }, ms);
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.#cancel = () => clock.clearTimeout(handle);
  }

  /** The handle closes: nothing more in the background, ever (a give-back under way that fails is not made again). */
  stop(): void {
    this.#cancel?.();
    this.#cancel = () => undefined;
  }

  /** A give-back that finds nothing held under these leases commits nothing, once the view is known current. */
  async #plan(): Promise<Plan<undefined>> {
    const { view, clock } = this.#c;
    const now = clock.now();
    view.state.holds.expire(now);
    const ops = this.giveBack(view.state, now);
    if (ops.length > 0) return { ops, result: undefined, done: this.#c.wake };
    if (await view.changed()) throw STALE;
    return { result: undefined };
  }
}
