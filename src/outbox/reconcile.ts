import type { QueueEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { DeadRecord } from './dead-letters.js';
import type { StoredTask } from './task.js';

/**
 * After a crash between the two steps of a move to dead (into dead letters first, then out of the outbox) or of a
 * dead-letter retry (into the outbox first, then out of dead letters), a task is both pending and dead: the later
 * decision stands. A retry always stamps the task later than its dead record, so the order is never a tie.
 * Resolves the entries of `pending` that it removed.
 */
export async function reconcile(pending: readonly QueueEntry<StoredTask>[], queue: Queue<StoredTask>, dead: Queue<DeadRecord>): Promise<Set<string>> {
  const removed = new Set<string>();
  if ((await dead.size()) === 0) return removed;
  const records = new Map<string, { id: string; at: number }>();
  for (const e of await dead.list()) records.set(e.value.task.id, { id: e.id, at: e.value.at });
  const deadTwice: string[] = [];
  for (const e of pending) {
    const twin = records.get(e.value.id);
    if (!twin) continue;
    if (twin.at >= e.value.createdAt) removed.add(e.id);
    else deadTwice.push(twin.id);
  }
  if (removed.size > 0) await queue.remove([...removed]);
  if (deadTwice.length > 0) await dead.remove(deadTwice);
  return removed;
}
