import type { QueueEntry } from '../../src/core/queue-types.js';
import type { StoredTask } from '../../src/outbox/task.js';

export type Ordering = 'group' | 'fifo' | 'none';

const RANK = { high: 0, normal: 1, low: 2 } as const;

/** The ordering lane of a task: tasks of one lane go out in enqueue order, one lane waits for no other. */
export function laneOf(task: StoredTask, ordering: Ordering): string | undefined {
  if (ordering === 'none') return undefined;
  if (ordering === 'fifo') return '';
  return task.group ?? '';
}

/**
 * Decides, walking the queue in order, which entries may be sent now. A lane is blocked by its first entry that
 * cannot go now (in flight, waiting for a retry, not before its time): entries behind it in the same lane wait, so
 * order within a lane holds across retries, while other lanes go on.
 */
export class Eligibility {
  readonly #ordering: Ordering;
  readonly #now: number;
  readonly #skip: (id: string) => boolean;
  /** In batch mode, consecutive tasks of a lane may travel together (the array keeps their order), up to a batch. */
  readonly #perLane: number;
  readonly #blocked = new Set<string>();
  readonly #taken = new Map<string, number>();
  /** Set when an entry with a priority other than 'normal' was seen. */
  prioritised = false;

  constructor(options: { ordering: Ordering; now: number; skip: (id: string) => boolean; perLane: number }) {
    this.#ordering = options.ordering;
    this.#now = options.now;
    this.#skip = options.skip;
    this.#perLane = options.perLane;
  }

  /** True when `entry` may be taken now. Call for every entry, in queue order. */
  admit(entry: QueueEntry<StoredTask>): boolean {
    const task = entry.value;
    if (task.priority) this.prioritised = true;
    const lane = laneOf(task, this.#ordering);
    if (lane !== undefined && this.#blocked.has(lane)) return false;
    const expired = task.expiresAt !== undefined && task.expiresAt <= this.#now;
    // A delay (a retry's) ends at the task's expiry, when it goes to dead; a lease is its holder's.
    const held = entry.state === 'delayed' ? !expired : entry.state !== 'ready';
    const waiting = held || this.#skip(task.id) || (!expired && task.notBefore !== undefined && task.notBefore > this.#now);
    if (lane === undefined) return !waiting;
    if (waiting) {
      this.#blocked.add(lane);
      return false;
    }
    const taken = (this.#taken.get(lane) ?? 0) + 1;
    this.#taken.set(lane, taken);
    if (taken >= this.#perLane) this.#blocked.add(lane);
    return true;
  }
}

/**
 * The ids to take from `entries` (all un-acked ones, in order): the eligible ones, higher priority first, then in
 * queue order, at most `max`.
 */
export function pick(entries: readonly QueueEntry<StoredTask>[], eligibility: Eligibility, max: number): Set<string> {
  const eligible = byPriority(entries.filter((e) => eligibility.admit(e)));
  return new Set(eligible.slice(0, max).map((e) => e.id));
}

/** Higher priority first, queue order within a priority (the sort is stable). */
export function byPriority<E extends { readonly value: StoredTask }>(entries: readonly E[]): E[] {
  return [...entries].sort((a, b) => RANK[a.value.priority ?? 'normal'] - RANK[b.value.priority ?? 'normal']);
}

/** The earliest time at which something now waiting may become sendable (a retry delay or a `notBefore`). */
export function nextWake(entries: readonly QueueEntry<StoredTask>[], now: number): number | undefined {
  let next = Infinity;
  for (const e of entries) {
    if (e.state !== 'ready') next = Math.min(next, e.availableAt);
    else if (e.value.notBefore !== undefined && e.value.notBefore > now) next = Math.min(next, e.value.notBefore);
  }
  return next === Infinity ? undefined : next;
}
