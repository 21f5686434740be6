import type { Entry } from './delivery.js';
import type { ResolvedOutboxOptions } from './options.js';
import { originOf, type Pending } from './pending-task.js';
import type { Reachability } from './reachability.js';
import type { Buffered } from './take-ahead.js';

/**
 * What a take may choose: `held` hosts' tasks are set aside till they are not, and `accept` passes over others;
 * `then`, when there is room left after, takes of those passed over the ones it accepts; `swapped` says which of
 * those taken are to be given back (others took their place).
 */
export interface TakeLimits {
  readonly held: ((origin: string) => boolean) | undefined;
  readonly accept: ((pending: Pending) => boolean) | undefined;
  readonly then?: ((pending: Pending) => boolean) | undefined;
  readonly swapped?: (() => Pending[]) | undefined;
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
  /** The units out: whether their hosts are failing is asked as they are now (one may fail while its requests are out). */
  readonly #out = new Map<Promise<void>, readonly Entry[]>();
  /** What the last take saw of each failing host's tasks. */
  #seen = new Map<string, Probes>();
  /**
   * Each failing host's oldest failure of a task there, as the last take that saw its tasks found it: that task goes
   * next in its turn (each in turn, not the first in turn again and again).
   */
  readonly #marks = new Map<string, number>();

  constructor(reachability: Reachability, options: ResolvedOutboxOptions) {
    this.#reachability = reachability;
    this.#options = options;
  }

  /** Counts `sending`, the request of `unit`, while it is out. */
  started(unit: readonly Entry[], sending: Promise<void>): void {
    this.#out.set(sending, unit);
  }

  ended(sending: Promise<void>): void {
    this.#out.delete(sending);
  }

  /**
   * True when `unit`, taken ahead, may not start now: its host is failing and their share of slots is in use (taken
   * ahead while its host had not failed yet, or before the share filled): it is given back, to be taken again.
   */
  over(unit: readonly Entry[]): boolean {
    return this.#share() !== undefined && this.#failing(unit) && this.#room() <= 0;
  }

  /**
   * The limits of a take, `buffer` being the units taken ahead and not yet started: the hosts held (a `Retry-After`, or
   * failing again: see `HostHolds`), and, the failing hosts' share of slots used up, those too (set aside, not looked
   * through at every take); else as many of theirs as the share has room for, those that have not failed there first.
   */
  limits(buffer: readonly Buffered[]): TakeLimits {
    const reachability = this.#reachability;
    const { holds } = reachability;
    const held = holds.size === 0 ? undefined : (origin: string) => holds.held(origin);
    // With `batch`, tasks go to the batch URL, not to their hosts: none is kept to (see the class).
    if (reachability.failingCount === 0 || !reachability.reachable || this.#options.batch) {
      this.#seen.clear();
      this.#marks.clear();
      return { held, accept: undefined };
    }
    const failing = (origin: string) => reachability.failing(origin);
    let room = this.#share() === undefined ? Infinity : this.#room() - buffer.filter((b) => this.#failing(b.unit)).length;
    if (room <= 0) return { held: (origin) => held?.(origin) === true || failing(origin), accept: undefined };
    const fits = () => room-- > 0;
    // Of a failing host's tasks, the first in turn that has not failed there goes, and the newest such beside it where
    // there is room: the first in turn being one that always fails (a CORS refusal, an upload too large for its time
    // limit) at a host that takes the rest, it was the one tried at each end of the host's hold, which grew, and the
    // rest never went; and a backlog of such tasks stored before the others was tried one at each end of the hold. Of
    // those that failed there, the one whose failure the last take found oldest goes in its turn (taken in turn, as the
    // others are: tasks of other hosts may fill every slot), unless one that has not failed there is seen after it,
    // which takes its place (`swapped`); or, none such seen, the oldest seen now where there is room (`then`): the
    // first in turn, again and again, left a task that failed once behind a backlog that always fails.
    for (const [origin, at] of this.#seen) if (at.oldest) this.#marks.set(origin, at.oldestAt);
    for (const origin of this.#marks.keys()) if (!failing(origin)) this.#marks.delete(origin);
    const seen = (this.#seen = new Map<string, Probes>());
    const accept = (pending: Pending): boolean => {
      const origin = pending.origin;
      if (!failing(origin)) return true;
      let at = seen.get(origin);
      if (!at) seen.set(origin, (at = { taken: false, newest: undefined, oldest: undefined, oldestAt: Infinity, failed: undefined }));
      const failedAt = pending.failedHere;
      if (failedAt !== undefined) {
        if (failedAt < at.oldestAt) [at.oldest, at.oldestAt] = [pending, failedAt];
        if (at.taken || at.failed || failedAt > (this.#marks.get(origin) ?? Infinity) || !fits()) return false;
        at.failed = pending;
        return true;
      }
      // One that has not failed there takes the place of one that has, taken before it (see `swapped`).
      if (!at.taken) {
        at.taken = at.failed !== undefined || fits();
        return at.taken;
      }
      if (!at.newest || (pending.rank === at.newest.rank && newer(pending, at.newest))) at.newest = pending;
      return false;
    };
    const then = (pending: Pending): boolean => {
      const at = seen.get(pending.origin);
      return at !== undefined && pending === (at.taken ? at.newest : at.failed ? undefined : at.oldest) && fits();
    };
    const swapped = () => [...seen.values()].flatMap((at) => (at.taken && at.failed ? [at.failed] : []));
    return { held, accept, then, swapped };
  }

  /** The slots the failing hosts may have; undefined where there is no share to keep (see the class). */
  #share(): number | undefined {
    const { concurrency, batch } = this.#options;
    const reachability = this.#reachability;
    return reachability.failingCount === 0 || !reachability.reachable || batch || concurrency < 2 ? undefined : Math.floor(concurrency / 2);
  }

  /** The share's slots not taken by requests out to hosts failing now. */
  #room(): number {
    let out = 0;
    for (const unit of this.#out.values()) if (this.#failing(unit)) out++;
    return this.#share()! - out;
  }

  /** Whether the host of `unit` (its first task's) is failing. */
  #failing(unit: readonly Entry[]): boolean {
    return this.#reachability.failing(originOf(unit[0]!.value.url));
  }
}

/**
 * What a take saw of a failing host's tasks: whether one that has not failed there was taken, the newest such passed
 * over, and the one that failed there longest ago.
 */
interface Probes {
  taken: boolean;
  newest: Pending | undefined;
  oldest: Pending | undefined;
  /** When that one failed there (its `failedHere` as it was seen: trying it again changes that). */
  oldestAt: number;
  /** The one that failed there taken. */
  failed: Pending | undefined;
}

/** Whether `a` was stored after `b`, as far as their clocks and places tell. */
function newer(a: Pending, b: Pending): boolean {
  return a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.seq > b.seq);
}

/**
 * What a take may choose, in order, until one gives tasks: online, anything (`SuspectSlots.limits` limits it); offline,
 * a probe to a host that has not failed (see `Reachability.admitsUntried`), then one that has not failed itself (a
 * request that meets a network error every time, where the network is there for the others, was the probe again
 * at each probe's time, and the others never went), then, of the probes due, the one whose failure is oldest (looked
 * for in one pass, taken in the next): the first in turn, again and again, left a task that failed once behind one
 * that always fails.
 */
export function probeOrder(reachability: Reachability): (((pending: Pending) => boolean) | undefined)[] {
  const admits = reachability.admits();
  if (admits === undefined) return [undefined];
  const untried = reachability.admitsUntried();
  let oldest: Pending | undefined;
  const look = (pending: Pending): false => {
    if (admits(pending) && (!oldest || (pending.failedHere ?? 0) < (oldest.failedHere ?? 0))) oldest = pending;
    return false;
  };
  return [...(untried ? [untried] : []), (pending) => pending.failedHere === undefined && admits(pending), look, (pending) => pending === oldest];
}
