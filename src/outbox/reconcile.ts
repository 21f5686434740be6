import type { QueueEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { DeadRecord } from './dead-letters.js';
import { eachPage } from './pages.js';
import { checkLetter, sameTask } from './pending-task.js';
import type { StoredTask } from './task.js';

/**
 * After a crash between the two steps of a move to dead (into dead letters first, then out of the outbox) or of a
 * dead-letter retry (into the outbox first, then out of dead letters), a task is both pending and dead: the later
 * decision stands. Each step names the other's entry (a dead letter the outbox entry it left, a retried task the
 * letter it came from), so that only that very twin goes: task ids are the user's, and two tasks may share one (an
 * Idempotency-Key reused on purpose), which must never take one for the other. Resolves the entries of `pending`
 * that it removed. `letters`: `dead`'s, as `lettersOf` read them.
 */
export async function reconcile(
  pending: readonly QueueEntry<StoredTask>[],
  queue: Queue<StoredTask>,
  dead: Queue<DeadRecord>,
  letters: ReadonlyMap<string, DeadRecord> | undefined,
): Promise<Set<string>> {
  const removed = new Set<string>();
  if (!letters) return removed;
  const entries = new Map(pending.map((e) => [e.id, e.value]));
  const byTaskId = new Map<string, QueueEntry<StoredTask>[]>();
  for (const e of pending) {
    const same = byTaskId.get(e.value.id);
    if (same) same.push(e);
    else byTaskId.set(e.value.id, [e]);
  }
  const deadTwice = new Set<string>();
  for (const [id, record] of letters) {
    const { from, task } = record;
    // A move to dead cut short: the entry it left is still pending.
    if (from !== undefined) {
      if (leftBehind(record, entries.get(from))) removed.add(from);
      continue;
    }
    // A letter of an earlier version names no entry: only an exact copy of it is its twin, whichever came later.
    for (const e of byTaskId.get(task.id) ?? []) {
      if (e.value.retriedFrom !== undefined || !sameRequest(e.value, task)) continue;
      if (record.at >= e.value.createdAt) removed.add(e.id);
      else deadTwice.add(id);
    }
  }
  // A retry cut short: the letter it came from is still there.
  for (const { retriedFrom, id } of entries.values()) {
    if (retriedFrom !== undefined && letters.get(retriedFrom)?.task.id === id) deadTwice.add(retriedFrom);
  }
  if (removed.size > 0) await queue.remove([...removed]);
  if (deadTwice.size > 0) await dead.remove([...deadTwice]);
  return removed;
}

/**
 * The dead letters by entry id, for `reconcile` to match pending tasks with, page after page; undefined: none. Read a
 * page at a time, and kept without their bodies but where a letter of an earlier version is matched by its whole request.
 */
export async function lettersOf(dead: Queue<DeadRecord>): Promise<Map<string, DeadRecord> | undefined> {
  if ((await dead.size()) === 0) return undefined;
  const letters = new Map<string, DeadRecord>();
  await eachPage(dead, (page) => {
    for (const { id, value } of page) {
      checkLetter(value, dead.name, id);
      const { body: _, ...task } = value.task;
      letters.set(id, value.from === undefined ? value : { ...value, task });
    }
  });
  return letters;
}

/**
 * The letters in `dead` left by moves of `entries` to dead that were cut short (see `reconcile`): for a live handle
 * that takes tasks back from a lease that ended unsettled, since only an open reconciles.
 */
export async function lettersLeaving(entries: readonly { id: string; value: StoredTask }[], dead: Queue<DeadRecord>): Promise<QueueEntry<DeadRecord>[]> {
  if ((await dead.size()) === 0) return [];
  const tasks = new Map(entries.map((e) => [e.id, e.value]));
  const found: QueueEntry<DeadRecord>[] = [];
  await eachPage(dead, (page) => {
    for (const e of page) if (e.value.from !== undefined && leftBehind(e.value, tasks.get(e.value.from))) found.push(e);
  });
  return found;
}

/** True when `letter` was written for `task`, the very entry its `from` names (ids alone may be shared). */
export function leftBehind(letter: DeadRecord, task: StoredTask | undefined): boolean {
  return task !== undefined && sameTask(task, letter.task);
}

/** True when `task` was put back by a retry of `letter` (the letter's id alone may name another letter's task). */
export function putBackFrom(letter: { readonly id: string; readonly value: DeadRecord }, task: StoredTask): boolean {
  return task.retriedFrom === letter.id && task.id === letter.value.task.id;
}

/** True when `a` and `b` are the same request, stored alike but for when it was (re)enqueued. */
function sameRequest(a: StoredTask, b: StoredTask): boolean {
  return JSON.stringify({ ...a, createdAt: 0 }) === JSON.stringify({ ...b, createdAt: 0 });
}
