import { partitionOf } from '../core/ids.js';
import type { Pending } from './pending-task.js';

/** Pending tasks filed by a name (a task id, a coalescing key), which several of them may share. */
export type ByName = Map<string, Set<Pending>>;

/** Files `pending` under `name`. */
export function addTo(map: ByName, name: string, pending: Pending): void {
  let set = map.get(name);
  if (!set) map.set(name, (set = new Set()));
  set.add(pending);
}

/**
 * Files `pending` under its coalescing key. The older tasks of that key still filed are in flight (`admit` replaced
 * the rest) or put back by a dead-letter retry; a newer task marks them `outdated`, one put back marks none (it may be
 * older than the task it joins, and is retried beside it).
 */
export function addKeyed(map: ByName, pending: Pending, putBack: boolean): void {
  if (!putBack) for (const other of map.get(pending.key!) ?? []) if (enqueuedBefore(other, pending)) other.outdated = true;
  addTo(map, pending.key!, pending);
}

/**
 * Whether `a` was enqueued before `b`: entry ids tell within a partition, not across them (a partition's ids are a
 * range of their own, read in partition order at open), where the times they were stored at tell.
 */
function enqueuedBefore(a: Pending, b: Pending): boolean {
  return partitionOf(a.seq)[0] === partitionOf(b.seq)[0] ? a.seq < b.seq : a.createdAt < b.createdAt;
}

/** Takes `pending` out from under `name`, and the name out once nothing is left under it. */
export function deleteFrom(map: ByName, name: string, pending: Pending): void {
  const set = map.get(name);
  set?.delete(pending);
  if (set?.size === 0) map.delete(name);
}
