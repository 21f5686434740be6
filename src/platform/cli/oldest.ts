import { partitionName } from '../../core/partitioned.js';
import type { Queue } from '../../core/queue.js';
import type { DeadRecord } from '../../outbox/dead-letters.js';
import type { StoredTask } from '../../outbox/task.js';
import { duration } from './io.js';
import { headSegmentTimes, type QueueKind } from './layout.js';

/**
 * How long ago the oldest unacked item was pushed, in ms. Exact (`minMs === maxMs`) where the item carries its
 * time: an outbox's tasks their enqueue time, dead letters the time they died. A plain queue's items carry none,
 * so its age is bounded by the times of the segment file holding the item: pushed no later than the file last
 * changed (`minMs`), and no earlier than it was made (`maxMs`; null where the file system keeps no birth time).
 */
export interface OldestAge {
  readonly minMs: number;
  readonly maxMs: number | null;
}

export async function oldestAge(queue: Queue<unknown>, kind: QueueKind, dir: string, now: number): Promise<OldestAge | null> {
  // Partitions keep no order among them: the oldest item is the oldest of their heads.
  let oldest: OldestAge | null = null;
  for (let p = 0; p < queue.partitions; p++) oldest = older(oldest, await headAge(queue, p, kind, dir, now));
  return oldest;
}

/** The age of partition `p`'s oldest unacked item. */
async function headAge(queue: Queue<unknown>, p: number, kind: QueueKind, dir: string, now: number): Promise<OldestAge | null> {
  const [head] = await queue.list({ partition: p, limit: 1 });
  if (!head) return null;
  const since = (time: number) => Math.max(0, Math.round(now - time));
  const at = itemTime(head.value, kind);
  if (at !== undefined) return { minMs: since(at), maxMs: since(at) };
  const times = headSegmentTimes(dir, partitionName(queue.name, p));
  if (!times) return { minMs: 0, maxMs: null };
  return { minMs: since(times.changed), maxMs: times.born === undefined ? null : since(times.born) };
}

/** The age of the older of two items, each known within bounds: the larger of each bound (no upper one if either has none). */
function older(a: OldestAge | null, b: OldestAge | null): OldestAge | null {
  if (!a || !b) return a ?? b;
  return { minMs: Math.max(a.minMs, b.minMs), maxMs: a.maxMs === null || b.maxMs === null ? null : Math.max(a.maxMs, b.maxMs) };
}

function itemTime(value: unknown, kind: QueueKind): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const at = kind === 'outbox' ? (value as Partial<StoredTask>).createdAt : kind === 'dead-letters' ? (value as Partial<DeadRecord>).at : undefined;
  return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
}

/** '5m 3s' when exact, '12s to 3h 2m' between bounds, '-' for an empty queue. */
export function ageText(age: OldestAge | null): string {
  if (!age) return '-';
  if (age.maxMs === null) return `at least ${duration(age.minMs)}`;
  const [min, max] = [duration(age.minMs), duration(age.maxMs)];
  return min === max ? min : `${min} to ${max}`;
}
