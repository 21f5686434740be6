import type { PendingIndex } from './pending.js';

/** The most origins held at once: the one whose hold ends first is dropped first (its tasks go, and are told again). */
const MAX_HELD = 1000;

/**
 * Origins that asked this handle to wait (a `Retry-After` on an answer judged a retry): until then none of their
 * tasks starts, in any group. A rate limit is the host's, not the request's: without this, every other task due at
 * that host would go and be told the same, one attempt each (a storm the server just asked to stop, and tasks sent
 * towards `max-attempts` for nothing). Kept in memory: a handle that starts afresh, or another that delivers, learns
 * it again from the next answer. Times are the wall clock's, as the tasks' own waits are.
 */
export class HostHolds {
  readonly #until = new Map<string, number>();

  /** `origin` waits until `until` (a later hold wins; an earlier one does not shorten it). */
  hold(origin: string, until: number): void {
    if ((this.#until.get(origin) ?? -Infinity) >= until) return;
    this.#until.set(origin, until);
    if (this.#until.size > MAX_HELD) this.#until.delete(this.#first()!);
  }

  /** True while `origin` is held at `now`; a hold that ended is forgotten. */
  held(origin: string, now: number): boolean {
    if (this.#until.size === 0) return false;
    const until = this.#until.get(origin);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#until.delete(origin);
    return false;
  }

  /** When the first hold after `now` ends (undefined: none), those ended forgotten: its tasks may go then, with nothing else to wake delivery. */
  next(now: number): number | undefined {
    let first: number | undefined;
    for (const [origin, until] of this.#until) {
      if (until <= now) this.#until.delete(origin);
      else if (first === undefined || until < first) first = until;
    }
    return first;
  }

  #first(): string | undefined {
    let first: [string, number] | undefined;
    for (const entry of this.#until) if (!first || entry[1] < first[1]) first = entry;
    return first?.[0];
  }

  get size(): number {
    return this.#until.size;
  }
}

/** Whether the host of `entry` (one task's origin stands for its unit's) asked for a wait that lasts past `now`. */
export function hostHeld(c: { readonly index: PendingIndex; readonly reachability: { readonly holds: HostHolds } }, entry: { readonly id: string }, now: number): boolean {
  const { holds } = c.reachability;
  if (holds.size === 0) return false;
  const pending = c.index.get(Number(entry.id));
  return pending !== undefined && holds.held(pending.origin, now);
}
