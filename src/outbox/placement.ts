import { SluiceError } from '../core/errors.js';
import { partitionOf } from '../core/ids.js';
import { append } from '../core/long-lists.js';
import { hash } from '../core/partitioned.js';
import type { Queue } from '../core/queue.js';
import { laneOf, type Ordering } from './pending-task.js';
import type { StoredTask } from './task.js';

/**
 * The push key of the tasks of the lane that has no group ('' : the ungrouped tasks under 'group', every task under
 * 'fifo'). A group of this name shares their partition, which costs nothing: order is kept per lane, not per partition.
 */
const DEFAULT_LANE_KEY = 'sluice.default-lane';

/**
 * Pushes `tasks` so that every ordering lane lives in one partition of `queue`: the index orders a lane by entry
 * id, and ids order only within a partition. Without ordering there are no lanes: the tasks go round-robin, in one
 * commit. With it, one commit per partition the lanes fall in; when one fails, the shares committed before it are
 * removed again, so that the push stays all or nothing as far as the store lets it. Should that removal fail too (a
 * full quota refuses it: it writes), 'ERR_STORAGE' names the tasks left stored, which are sent: never the push's own
 * error, whose 'ERR_QUOTA_EXCEEDED' says "stored nothing" (their bodies would be deleted, and an app that enqueued
 * again would send them twice). Resolves the entry ids in the order of `tasks`.
 */
export async function pushPlaced(queue: Queue<StoredTask>, tasks: readonly StoredTask[], ordering: Ordering): Promise<string[]> {
  if (queue.partitions === 1 || ordering === 'none') return queue.pushMany(tasks);
  const shares = new Map<number, { key: string; at: number[] }>();
  tasks.forEach((task, i) => {
    const key = laneOf(task, ordering) || DEFAULT_LANE_KEY;
    // The queue places a key by this same hash, so tasks of keys that share a partition share a commit.
    const p = hash(key) % queue.partitions;
    if (!shares.has(p)) shares.set(p, { key, at: [] });
    shares.get(p)!.at.push(i);
  });
  const ids: string[] = new Array(tasks.length);
  const done: string[] = [];
  try {
    for (const { key, at } of shares.values()) {
      const pushed = await queue.pushMany(at.map((i) => tasks[i]!), { key });
      at.forEach((i, j) => (ids[i] = pushed[j]!));
      append(done, pushed);
    }
  } catch (error) {
    if (done.length > 0) await queue.remove(done).catch((failure: unknown) => Promise.reject(leftStored(tasks.filter((_, i) => ids[i] !== undefined), tasks.length, error, failure)));
    throw error;
  }
  return ids;
}

/** The errors of `leftStored`: their cause is the store's refusal of a later share. */
export const LEFT = new WeakSet<object>();

/** The error of a push of `count` tasks whose earlier shares (`left`) stayed stored, their removal refused by `failure`. */
function leftStored(left: readonly StoredTask[], count: number, error: unknown, failure: unknown): SluiceError {
  const refused = new SluiceError('ERR_STORAGE', `${left.length} of the ${count} tasks were stored before the store refused the rest, and could not be taken out again (${String(failure)}): they will be sent (task ids ${left.map((t) => t.id).join(', ')}).`, {
    cause: error,
  });
  LEFT.add(refused);
  return refused;
}

/** The first id of each partition `ids` went to (one push per partition: the ids in each are consecutive). */
export function firstPerPartition(ids: readonly number[]): Map<number, number> {
  const firsts = new Map<number, number>();
  for (const id of ids) {
    const [p] = partitionOf(id);
    firsts.set(p, Math.min(firsts.get(p) ?? id, id));
  }
  return firsts;
}
