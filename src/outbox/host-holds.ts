import { monotonic, type Clock } from '../core/clock.js';
import type { Pending, PendingIndex } from './pending.js';

/** When a hold ends, on the monotonic clock and on the wall clock. */
interface End {
  readonly mono: number;
  readonly wall: number;
}

/** An origin's holds: the one it asked for (`asked`) and the one for failing (`down`). */
interface Ends {
  readonly asked?: End | undefined;
  readonly down?: End | undefined;
}

/** The most origins held at once: the one whose hold ends first is dropped first (its tasks go, and are told again). */
const MAX_HELD = 1000;

/**
 * Origins that asked this handle to wait (a `Retry-After` on an answer judged a retry): until then none of their
 * tasks starts, in any group. A rate limit is the host's, not the request's: without this, every other task due at
 * that host would go and be told the same, one attempt each (a storm the server just asked to stop, and tasks sent
 * towards `max-attempts` for nothing). Kept in memory: a handle that starts afresh, or another that delivers, learns
 * it again from the next answer. A hold ends by the first of two clocks: the monotonic one, which a wall clock stepped
 * back does not stretch, and the wall clock, which a machine's sleep moves on (the monotonic one stands still then).
 */
export class HostHolds {
  readonly #clock: Clock;
  /**
   * When each origin's holds end: the one it asked for (`asked`) and the one for failing (`down`), which its answer
   * ends. Kept apart: one for both, a hold for failing that ended later took the place of a `Retry-After`, and the
   * next answer ended both.
   */
  readonly #until = new Map<string, Ends>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * `origin` waits `ms` from now (a hold that ends later wins; one that ends sooner does not shorten it); `down`: for
   * failing, not at its word, and an answer from it ends the hold (see `answered`).
   */
  hold(origin: string, ms: number, down = false): void {
    const ends = this.#until.get(origin) ?? {};
    const known = down ? ends.down : ends.asked;
    if (known && this.#in(known) >= ms) return;
    const end = { mono: monotonic(this.#clock) + ms, wall: this.#clock.now() + ms };
    this.#until.set(origin, down ? { ...ends, down: end } : { ...ends, asked: end });
    if (this.#until.size > MAX_HELD) this.#until.delete(this.#first()!);
  }

  /** `origin` answered: it is there, and a hold for failing ends; one it asked for (a `Retry-After`) stands. */
  answered(origin: string): void {
    const ends = this.#until.get(origin);
    if (!ends?.down) return;
    if (ends.asked) this.#until.set(origin, { asked: ends.asked });
    else this.#until.delete(origin);
  }

  /** True while `origin` is held; a hold that ended is forgotten. */
  held(origin: string): boolean {
    if (this.#until.size === 0) return false;
    const ends = this.#until.get(origin);
    if (ends === undefined) return false;
    if (this.#left(ends) > 0) return true;
    this.#until.delete(origin);
    return false;
  }

  /** How long until the holds `ends` are over (0 or less: they are). */
  #left(ends: Ends): number {
    return Math.max(ends.asked ? this.#in(ends.asked) : 0, ends.down ? this.#in(ends.down) : 0);
  }

  /** How long until the hold `until` ends (0 or less: it did), by the first of its two clocks. */
  #in(until: End): number {
    return Math.min(until.mono - monotonic(this.#clock), until.wall - this.#clock.now());
  }

  /**
   * When, on the wall clock, the first hold ends (undefined: none), those ended forgotten: its tasks may go then, with
   * nothing else to wake delivery.
   */
  next(): number | undefined {
    let first: number | undefined;
    for (const [origin, ends] of this.#until) {
      const left = this.#left(ends);
      if (left <= 0) this.#until.delete(origin);
      else if (first === undefined || left < first) first = left;
    }
    return first === undefined ? undefined : this.#clock.now() + first;
  }

  #first(): string | undefined {
    let first: [string, number] | undefined;
    for (const [origin, ends] of this.#until) {
      const left = this.#left(ends);
      if (!first || left < first[1]) first = [origin, left];
    }
    return first?.[0];
  }

  get size(): number {
    return this.#until.size;
  }
}

/** Whether the host of `entry` (one task's origin stands for its unit's) asked for a wait that lasts yet. */
export function hostHeld(c: { readonly index: PendingIndex; readonly reachability: { readonly holds: HostHolds } }, entry: { readonly id: string }): boolean {
  const { holds } = c.reachability;
  if (holds.size === 0) return false;
  const pending = c.index.get(Number(entry.id));
  return pending !== undefined && holds.held(pending.origin);
}

/**
 * The candidates a take found at a held host, by origin: kept off the candidates until their origin is held no more,
 * so that a backlog there is neither looked through at every take (100 000 of them made a take of 50 others last
 * seconds) nor outranks the tasks that may go.
 */
export class SetAside {
  readonly #by = new Map<string, Set<Pending>>();

  /** Sets `pending` aside; true, for a take to pass on. */
  add(pending: Pending): true {
    const aside = this.#by.get(pending.origin);
    if (aside) aside.add(pending);
    else this.#by.set(pending.origin, new Set([pending]));
    return true;
  }

  delete(pending: Pending): void {
    this.#by.get(pending.origin)?.delete(pending);
  }

  /** Takes back those of the origins `held` no longer holds (all, without `held`), to be offered again. */
  *released(held: ((origin: string) => boolean) | undefined): Generator<Pending> {
    for (const [origin, tasks] of this.#by) {
      if (held?.(origin)) continue;
      this.#by.delete(origin);
      yield* tasks;
    }
  }
}
