import { counted, SluiceError } from '../core/errors.js';
import { FRAME_HEADER } from '../core/frame.js';
import type { QueueEntry } from '../core/queue-types.js';
import type { LimitOptions } from './options.js';
import type { Pending, PendingIndex } from './pending.js';
import { byAge, inFlight } from './pending-task.js';
import { taskBytes, type StoredTask } from './task.js';

/**
 * The storage budget of `OutboxOptions.limits`, counted on the pending index (no scan of the queue): the tasks to
 * evict so that `incoming` fits, none when it fits already. 'reject' refuses what does not fit with
 * 'ERR_QUOTA_EXCEEDED'; 'drop-oldest' names the oldest tasks not in flight (the outbox moves them to dead as
 * 'evicted', so even an eviction is told in an event), never one in flight. `leaving` are tasks already on their
 * way out (superseded).
 */
function makeRoom(limits: Required<LimitOptions>, index: PendingIndex, incoming: readonly StoredTask[], leaving: ReadonlySet<Pending>): Pending[] {
  const { maxTasks, maxBytes, overflow } = limits;
  if (maxTasks === Infinity && maxBytes === Infinity) return [];
  const cost = (bytes: number) => bytes + FRAME_HEADER;
  const adding = incoming.reduce((sum, t) => sum + cost(taskBytes(t)), 0);
  let tasks = index.size - leaving.size + incoming.length;
  let bytes = index.bytes + index.size * FRAME_HEADER + adding - [...leaving].reduce((sum, p) => sum + cost(p.bytes), 0);
  if (tasks <= maxTasks && bytes <= maxBytes) return [];
  const fail = (): never => {
    // Under 'drop-oldest', what is left is what may not be evicted: the incoming tasks themselves, or those in flight.
    const why =
      overflow === 'reject'
        ? `raise \`limits\`, or set \`limits.overflow\` to 'drop-oldest'`
        : `or raise \`limits\` (a task in flight, or leased by another handle, is not evicted from under its request)`;
    throw new SluiceError(
      'ERR_QUOTA_EXCEEDED',
      `The outbox holds ${counted(index.size, 'task')} in ${index.bytes + index.size * FRAME_HEADER} bytes; ${incoming.length} more ${incoming.length === 1 ? 'does' : 'do'} not fit its limits ` +
        `(maxTasks ${maxTasks}, maxBytes ${maxBytes}). Nothing was enqueued: enqueue again once tasks are sent, ${why}.`,
    );
  };
  if (overflow === 'reject' || incoming.length > maxTasks || adding > maxBytes) fail();
  const evict: Pending[] = [];
  if (tasks <= maxTasks && bytes <= maxBytes) return evict;
  // In flight here (by keepalive as the page hid, too), or leased by another handle: not evicted from under a request.
  const may = (pending: Pending) => !inFlight(pending) && pending.cause !== 'lease' && !leaving.has(pending) && !index.keptAlive.has(pending);
  // Oldest first: the index holds tasks in the order this handle read them, queue order with one partition; with
  // several, tasks read from the store (at open, or pushed by another handle) come partition by partition. The check
  // ends the loop before it asks for the next (with several partitions, a sort).
  for (const pending of index.partitions > 1 ? oldestFirst(index, may) : index.values()) {
    if (!may(pending)) continue;
    evict.push(pending);
    tasks--;
    bytes -= cost(pending.bytes);
    if (tasks <= maxTasks && bytes <= maxBytes) break;
  }
  if (tasks > maxTasks || bytes > maxBytes) fail();
  return evict;
}

/**
 * The tasks `may` evict, oldest first (see `byAge`): most enqueues at the limit evict one, found in one pass; the rest
 * by a sort (of every task, at every such enqueue, that cost 7 to 10 ms with 100 000 pending in 8 partitions).
 */
function* oldestFirst(index: PendingIndex, may: (pending: Pending) => boolean): Generator<Pending> {
  let first: Pending | undefined;
  for (const pending of index.values()) if (may(pending) && (!first || byAge(pending, first) < 0)) first = pending;
  if (!first) return;
  yield first;
  yield* [...index.values()].filter((pending) => pending !== first && may(pending)).sort(byAge);
}

/**
 * The entries to evict so that `incoming` fits `limits` ('drop-oldest'), besides those `leaving` anyway: chosen on the
 * index, then confirmed against the queue (`entries`, which passes over one leased elsewhere meanwhile). The index may
 * still count tasks another process sent, removed or evicted: before a refusal, and before an eviction where the queue
 * holds fewer tasks than the index (`stored`), those gone are forgotten (`forgetGone`) and it is tried again.
 */
export async function evictions(
  limits: Required<LimitOptions>,
  index: PendingIndex,
  incoming: readonly StoredTask[],
  leaving: readonly QueueEntry<StoredTask>[],
  entries: (chosen: readonly Pending[]) => Promise<QueueEntry<StoredTask>[]>,
  forgetGone: () => Promise<void>,
  stored: () => Promise<number>,
): Promise<QueueEntry<StoredTask>[]> {
  const away = new Set(leaving.map((e) => index.get(Number(e.id))!));
  let confirmed = false;
  for (;;) {
    let chosen: Pending[];
    try {
      chosen = makeRoom(limits, index, incoming, away);
    } catch (error) {
      if (confirmed || !(error instanceof SluiceError && error.code === 'ERR_QUOTA_EXCEEDED')) throw error;
      confirmed = true;
      await forgetGone();
      continue;
    }
    // Else tasks that fit are evicted, for room that tasks gone elsewhere hold only in this index.
    if (chosen.length > 0 && !confirmed && (await stored()) < index.size) {
      confirmed = true;
      await forgetGone();
      continue;
    }
    const found = await entries(chosen);
    if (found.length === chosen.length) return found;
  }
}
