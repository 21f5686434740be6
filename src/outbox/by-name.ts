import type { Pending } from './pending-task.js';

/** Pending tasks filed by a name (a task id, a coalescing key), which several of them may share. */
export type ByName = Map<string, Set<Pending>>;

/** Files `pending` under `name`. */
export function addTo(map: ByName, name: string, pending: Pending): void {
  let set = map.get(name);
  if (!set) map.set(name, (set = new Set()));
  set.add(pending);
}

/** Takes `pending` out from under `name`, and the name out once nothing is left under it. */
export function deleteFrom(map: ByName, name: string, pending: Pending): void {
  const set = map.get(name);
  set?.delete(pending);
  if (set?.size === 0) map.delete(name);
}
