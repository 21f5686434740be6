import type { QueueEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { PendingTask } from './events.js';
import type { Pending } from './pending.js';
import { inFlight } from './pending-task.js';
import type { StoredTask } from './task.js';

/**
 * Of `pending` (in queue order), the tasks of one `group` and in one of `states` when given, at most `limit`, as
 * `Outbox.list` shows them. Where the index knows nothing of a task's wait, its entry tells what another handle did
 * (a delay, a lease): see `view`. Entries are read a page at a time.
 */
export async function listed(
  queue: Queue<StoredTask>,
  pending: Iterable<Pending>,
  group: string | undefined,
  limit: number,
  states: readonly PendingTask['state'][] | undefined,
  now: number,
): Promise<PendingTask[]> {
  const out: PendingTask[] = [];
  let page: Pending[] = [];
  const read = async () => {
    const entries = new Map((await queue.list({ ids: page.map((p) => String(p.seq)) })).map((e) => [Number(e.id), e]));
    for (const p of page) {
      const entry = entries.get(p.seq);
      const task = entry && view(p, entry, now);
      if (task && out.length < limit && (!states || states.includes(task.state))) out.push(task);
    }
    page = [];
  };
  for (const p of pending) {
    if (out.length >= limit) break;
    if (group !== undefined && p.group !== group) continue;
    if (states && !mayBeIn(p, states, now)) continue;
    page.push(p);
    if (page.length >= Math.min(limit - out.length, LIST_PAGE)) await read();
  }
  if (page.length > 0) await read();
  return out;
}

/** Entries `listed` reads at once (and the pending store checks at once, see `PendingStore`). */
export const LIST_PAGE = 500;

/** Where a pending task stands, as the index knows it: one taken ahead of its request waits its turn ('ready'). */
function stateOf(p: Pending): PendingTask['state'] {
  if (inFlight(p) || p.cause === 'lease') return 'sending';
  return p.cause === 'schedule' ? 'scheduled' : p.state === 'ready' || p.state === 'busy' ? 'ready' : 'retrying';
}

/**
 * Whether what the index says of a task may be out of date: one it holds ready may be in flight in another handle,
 * or waiting for a retry there; one it saw leased by another handle may since have been released, with a delay or
 * not; one whose wait has ended (a retry another handle relayed, say) may be in flight there again. This handle
 * learns that from the queue (or from the handle that delivers, see `Deliverer`).
 */
function unsure(p: Pending, now: number): boolean {
  return p.state === 'ready' || (p.state === 'waiting' && (p.cause === 'lease' || p.until <= now));
}

/** A pending task as `Outbox.list` shows it: as the index knows it, or, when unsure, as its entry says. */
function view(p: Pending, entry: QueueEntry<StoredTask>, now: number): PendingTask {
  const { method, url } = entry.value;
  let state = stateOf(p);
  let nextAttemptAt = p.until;
  if (unsure(p, now)) {
    if (entry.state === 'leased') state = 'sending';
    else if (entry.state === 'delayed' && entry.availableAt > now) [state, nextAttemptAt] = ['retrying', entry.availableAt];
    else state = 'ready';
  }
  return {
    id: p.id,
    method,
    url,
    ...(p.group !== undefined && { group: p.group }),
    attempts: entry.attempts,
    state,
    ...(state === 'retrying' || state === 'scheduled' ? { nextAttemptAt } : {}),
    ...(p.last?.status !== undefined && { lastStatus: p.last.status }),
    ...(p.last?.error !== undefined && { lastError: p.last.error }),
  };
}

/**
 * Whether `p` may be in one of `states` (`Outbox.list`'s filter, before its entry is read): as the index knows it, or,
 * where the index may be out of date (see `unsure`), as its entry may say.
 */
function mayBeIn(p: Pending, states: readonly PendingTask['state'][], now: number): boolean {
  return states.includes(stateOf(p)) || (unsure(p, now) && states.some((s) => s === 'ready' || s === 'retrying' || s === 'sending'));
}
