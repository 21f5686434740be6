import type { QueueEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { Pending, PendingIndex } from './pending.js';
import { sameTask } from './pending-task.js';
import type { StoredTask } from './task.js';

/** A task as stored: its entry in the outbox's queue, and the task. */
export type Stored = Pick<QueueEntry<StoredTask>, 'id' | 'value'>;

/**
 * After a push of `tasks` failed, and the index read the queue since: the entries of those the store holds all the
 * same (read in at a `fresh` entry id, as the same task), in the order of `tasks`.
 */
export async function landed(queue: Queue<StoredTask>, index: PendingIndex, tasks: readonly StoredTask[], fresh: (seq: number) => boolean): Promise<Stored[]> {
  const seqs = [...new Set(tasks.flatMap((t) => index.withId(t.id)).filter((p) => fresh(p.seq)))].map((p) => String(p.seq));
  const entries = seqs.length === 0 ? [] : await queue.list({ ids: seqs });
  return tasks.flatMap((task) => {
    const at = entries.findIndex((e) => sameTask(e.value, task));
    return at < 0 ? [] : entries.splice(at, 1);
  });
}

/**
 * The pending task `index` holds for `entry` of a lease, unless its entry id names another task there now: the store
 * went back, and the lease's task was lost (see `PendingStore.catchUp`). Its settling must leave that one be.
 */
export function indexedAs(index: PendingIndex, entry: Stored): Pending | undefined {
  const pending = index.get(Number(entry.id));
  return pending && sameTask(entry.value, pending) ? pending : undefined;
}
