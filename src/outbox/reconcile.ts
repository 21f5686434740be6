import type { Queue } from '../core/queue.js';
import type { DeadRecord } from './dead-letters.js';
import type { StoredTask } from './task.js';

/** An entry of the outbox queue, or a task not stored yet (`id` ''). */
export interface Pending {
  readonly id: string;
  readonly value: StoredTask;
  readonly attempts: number;
}

/**
 * Coalescing: the pending tasks that `incoming` supersedes (same `key`, not in flight), the older ones of
 * `incoming` itself included, since within one enqueueMany the last task of a key wins too.
 */
export async function superseded(queue: Queue<StoredTask>, incoming: readonly StoredTask[], busy: (id: string) => boolean): Promise<Pending[]> {
  const keys = new Set(incoming.filter((t) => t.key !== undefined).map((t) => t.key));
  if (keys.size === 0) return [];
  const out: Pending[] = [];
  for (const entry of await queue.list()) {
    if (entry.state !== 'leased' && keys.has(entry.value.key) && !busy(entry.value.id)) out.push(entry);
  }
  incoming.forEach((task, i) => {
    if (task.key !== undefined && incoming.slice(i + 1).some((t) => t.key === task.key)) out.push({ id: '', value: task, attempts: 0 });
  });
  return out;
}

/**
 * After a crash between the two steps of a burial (dead first, then out of the outbox) or of a dead-letter retry
 * (into the outbox first, then out of dead), a task is both pending and dead: the later decision stands. A retry
 * always stamps the task later than its dead record, so the order is never a tie.
 */
export async function reconcile(queue: Queue<StoredTask>, graveyard: Queue<DeadRecord>): Promise<void> {
  if ((await graveyard.size()) === 0) return;
  const dead = new Map<string, { id: string; at: number }>();
  for (const e of await graveyard.list()) dead.set(e.value.task.id, { id: e.id, at: e.value.at });
  const pendingTwice: string[] = [];
  const deadTwice: string[] = [];
  for (const e of await queue.list()) {
    const twin = dead.get(e.value.id);
    if (!twin) continue;
    if (twin.at >= e.value.createdAt) pendingTwice.push(e.id);
    else deadTwice.push(twin.id);
  }
  if (pendingTwice.length > 0) await queue.remove(pendingTwice);
  if (deadTwice.length > 0) await graveyard.remove(deadTwice);
}
