import type { Entry } from './delivery.js';
import type { ResolvedOutboxOptions } from './options.js';
import { originOf, type Pending } from './pending-task.js';
import type { Reachability } from './reachability.js';
import type { Buffered } from './take-ahead.js';

/** What a take may choose: `held` hosts' tasks are set aside till they are not, and `accept` passes over others. */
export interface TakeLimits {
  readonly held: ((origin: string) => boolean) | undefined;
  readonly accept: ((pending: Pending) => boolean) | undefined;
}

/**
 * Requests out to hosts that failed (a network error, or no answer in time) and have not answered since: at most half
 * the slots, rounded down (one at least). A host that takes the connection and never answers holds a slot for the
 * whole time limit at each try, and is held only once it failed twice: forty such hosts, a task each, kept 200 tasks
 * to hosts that answer waiting 110 s instead of 1.5 s, every slot theirs as each task's retry came due. Whatever
 * they are, the other half of the slots goes on to hosts that answer, or have not failed. Online, without `batch`
 * (a batch's request goes to the batch URL) and with more than one slot; each unit counts by its first task's host.
 */
export class SuspectSlots {
  readonly #reachability: Reachability;
  readonly #options: ResolvedOutboxOptions;
  /** The requests out, by host: whether a host is failing is asked as it is now (one may fail while its requests are out). */
  readonly #out = new Map<Promise<void>, string>();

  constructor(reachability: Reachability, options: ResolvedOutboxOptions) {
    this.#reachability = reachability;
    this.#options = options;
  }

  /** Counts `sending`, the request of `unit`, while it is out. */
  started(unit: readonly Entry[], sending: Promise<void>): void {
    this.#out.set(sending, originOf(unit[0]!.value.url));
  }

  ended(sending: Promise<void>): void {
    this.#out.delete(sending);
  }

  /**
   * True when `unit`, taken ahead, may not start now: its host is failing and their share of slots is in use (taken
   * ahead while its host had not failed yet, or before the share filled): it is given back, to be taken again.
   */
  over(unit: readonly Entry[]): boolean {
    const { concurrency, batch } = this.#options;
    const reachability = this.#reachability;
    if (reachability.failingCount === 0 || !reachability.reachable || batch || concurrency < 2) return false;
    return reachability.failing(originOf(unit[0]!.value.url)) && this.#failingOut() >= Math.floor(concurrency / 2);
  }

  /** How many requests out are to hosts failing now. */
  #failingOut(): number {
    let count = 0;
    for (const origin of this.#out.values()) if (this.#reachability.failing(origin)) count++;
    return count;
  }

  /**
   * The limits of a take, `buffer` being the units taken ahead and not yet started: the hosts held (a `Retry-After`, or
   * failing again: see `HostHolds`), and, the failing hosts' share of slots used up, those too (set aside, not looked
   * through at every take); else as many of theirs as the share has room for.
   */
  limits(buffer: readonly Buffered[]): TakeLimits {
    const reachability = this.#reachability;
    const { holds } = reachability;
    const held = holds.size === 0 ? undefined : (origin: string) => holds.held(origin);
    const { concurrency, batch } = this.#options;
    if (reachability.failingCount === 0 || !reachability.reachable || batch || concurrency < 2) return { held, accept: undefined };
    const failing = (origin: string) => reachability.failing(origin);
    let room = Math.floor(concurrency / 2) - this.#failingOut() - buffer.filter((b) => failing(originOf(b.unit[0]!.value.url))).length;
    if (room <= 0) return { held: (origin) => held?.(origin) === true || failing(origin), accept: undefined };
    return { held, accept: (pending) => !failing(pending.origin) || room-- > 0 };
  }
}
