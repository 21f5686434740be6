import type { Lease } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { backoffDelay } from './backoff.js';
import type { DeadRecord } from './dead-letters.js';
import type { ToDead } from './delivery.js';
import { relearn } from './gone.js';
import type { ResolvedOutboxOptions } from './options.js';
import type { PendingIndex } from './pending.js';
import { lettersLeaving } from './reconcile.js';
import { capText } from './scrub.js';
import type { StoredTask } from './task.js';

/** A task moved to dead: what its letter holds, and the letter's id. */
export interface Buried {
  readonly record: DeadRecord;
  readonly letter: string;
}

/** What a move to dead needs of the outbox. */
export interface BurialContext {
  readonly dead: Queue<DeadRecord>;
  readonly queue: Queue<StoredTask>;
  readonly index: PendingIndex;
  /** The retry delays: a task of a delivery whose burial failed goes again after one. */
  readonly options: Pick<ResolvedOutboxOptions, 'retry' | 'random' | 'clock'>;
}

/**
 * Moves tasks to dead: into the dead letters first, then out of the outbox (`lease` acks those it holds). A crash
 * between leaves a task in both, which `reconcile` settles on the next open; the other order could lose it. Without
 * a lease (a task superseded or evicted as another is enqueued), they are leased first (see `claim`). Resolves the
 * records written.
 *
 * A move that fails is undone as far as the store lets it, and its tasks are given back at once rather than held for
 * the lease's length (neither delivered nor dead meanwhile): those claimed for it as they were, with the delays they
 * had; those of a delivery after a retry delay (`retry`), so that a store that keeps refusing does not make a request
 * a turn. Dead letters written for tasks whose removal from the outbox then failed are deleted again, so that a
 * long-lived handle, which `reconcile` never sees again, does not keep a task both pending and dead: only for tasks the
 * outbox still holds, since a failed removal may have been committed all the same, and the letter is then their only copy.
 * Letters whose write failed may have been stored all the same (a reply lost): found, the move goes on; where that
 * cannot be told, the tasks are held until the lease ends, and whoever takes them back looks for their letters.
 */
export async function moveToDead(c: BurialContext, list: readonly ToDead[], lease: Lease<StoredTask> | undefined, at: number): Promise<Buried[]> {
  let moving = list;
  let delays: Map<string, number> | undefined;
  if (!lease) ({ moving, lease, delays } = await claim(c, list));
  else moving = await stillHeld(c, list);
  const records = moving.map(({ entry, reason, status, error, location }): DeadRecord => ({
    task: entry.value,
    reason,
    attempts: entry.attempts,
    at,
    ...(status !== undefined && { status }),
    ...(error !== undefined && { error: capText(error) }),
    ...(location !== undefined && { location }),
    from: entry.id,
  }));
  if (records.length === 0) return [];
  const stored = moving.filter((d) => d.entry.id !== '');
  let letters: string[];
  try {
    letters = await c.dead.pushMany(records);
  } catch (error) {
    // Perhaps stored all the same (the reply lost): then the move goes on. Handles that did not see the failure
    // would otherwise send a task that is dead too.
    const landed = await lettersLeaving(stored.map((d) => d.entry), c.dead).catch(() => undefined);
    // Where that cannot be told, the tasks stay leased until the lease ends, as a holder that died mid-burial leaves
    // them: every handle that takes one back then looks for its letter first (see `DeadMoves.finishCutShort`).
    if (!landed) throw error;
    if (landed.length !== records.length || stored.length !== records.length) {
      await giveBack(c, stored, lease!, delays);
      throw error;
    }
    const byEntry = new Map(landed.map((l) => [l.value.from!, l.id]));
    letters = stored.map((d) => byEntry.get(d.entry.id)!);
  }
  if (stored.length > 0) {
    try {
      await lease!.ack(stored.map((d) => d.entry.id));
    } catch (error) {
      await undo(c, moving, letters, lease!, delays);
      throw error;
    }
  }
  for (const { entry } of stored) {
    const pending = c.index.get(Number(entry.id));
    if (pending) c.index.remove(pending);
  }
  return records.map((record, i) => ({ record, letter: letters[i]! }));
}

/**
 * After the letters were written and the tasks' removal failed: the letters of the tasks still in the outbox are
 * deleted, and those tasks given back. Never rejects (the move's own failure is what the caller hears); where it fails
 * too, the tasks stay both pending and dead, held until their lease ends: whoever takes them back then finishes the
 * move (see `DeadMoves.finishCutShort`), as does the next open's `reconcile`.
 */
async function undo(c: BurialContext, moving: readonly ToDead[], letters: readonly string[], lease: Lease<StoredTask>, delays: Map<string, number> | undefined): Promise<void> {
  try {
    const there = await inOutbox(c, moving);
    const back = moving.flatMap((d, i) => (there.has(d.entry.id) ? [{ d, letter: letters[i]! }] : []));
    if (back.length === 0) return;
    await c.dead.remove(back.map((b) => b.letter));
    await giveBack(
      c,
      back.map((b) => b.d),
      lease,
      delays,
    );
  } catch {
    // The store is failing: what stays is settled by the next open (see `reconcile`).
  }
}

/**
 * Releases the stored tasks of `list` from `lease`, now, and has the index wait for them as the queue does. Never
 * rejects: tasks it cannot release stay held until the lease ends.
 */
async function giveBack(c: BurialContext, list: readonly ToDead[], lease: Lease<StoredTask>, delays: Map<string, number> | undefined): Promise<void> {
  const { index, options } = c;
  const now = options.clock.now();
  for (const d of list) {
    if (d.entry.id === '') continue;
    const pending = index.get(Number(d.entry.id));
    // Claimed for the burial (no request made): as it was, its stored delay kept. Of a delivery: after a retry delay.
    const delayMs = delays ? Math.max(0, (delays.get(d.entry.id) ?? 0) - now) : backoffDelay(options.retry, Math.max(1, d.entry.attempts), options.random);
    const untried = delays !== undefined || d.untried === true;
    try {
      await lease.release([d.entry.id], { delayMs, untried });
    } catch {
      continue;
    }
    if (!pending || delays) continue;
    if (untried) pending.attempts = Math.max(0, pending.attempts - 1);
    if (pending.state === 'busy') index.wait(pending, now + delayMs, 'server');
  }
}

/**
 * The tasks of a delivery's `list` still in the outbox. One whose request outlasted its lease (its process stalled, the
 * wall clock stepped) may have been sent by another handle meanwhile: acked, it is gone, and an ack of it again passes,
 * so without this look its letter stayed, a task delivered listed as dead (and sent once more by `dead.retry()`).
 */
async function stillHeld(c: BurialContext, list: readonly ToDead[]): Promise<readonly ToDead[]> {
  const there = await inOutbox(c, list);
  const held = (d: ToDead) => d.entry.id === '' || there.has(d.entry.id);
  for (const d of list) {
    const pending = held(d) ? undefined : c.index.get(Number(d.entry.id));
    if (pending) c.index.remove(pending);
  }
  return list.filter(held);
}

/** The entry ids of the stored tasks of `list` that the outbox still holds. */
async function inOutbox(c: BurialContext, list: readonly ToDead[]): Promise<Set<string>> {
  const ids = list.map((d) => d.entry.id).filter((id) => id !== '');
  return new Set(ids.length === 0 ? [] : (await c.queue.list({ ids })).map((e) => e.id));
}

/**
 * Leases the stored tasks of `list` that are still there and not leased (one never stored, entry '', needs none), so
 * that only those are buried: one another handle took meanwhile is theirs (its response decides), and one it sent or
 * removed meanwhile is gone, which a removal could not tell from those it removed itself. This handle's index learns
 * where the others are. `delays`: when each one taken was to be available (a retry's delay), to be kept should the
 * burial fail.
 */
async function claim(c: BurialContext, list: readonly ToDead[]): Promise<{ moving: readonly ToDead[]; lease: Lease<StoredTask> | undefined; delays: Map<string, number> }> {
  const { queue, index } = c;
  const ids = list.map((d) => d.entry.id).filter((id) => id !== '');
  const delays = new Map<string, number>();
  // Those waiting for a retry are taken too: a newer task replaces them, or a budget evicts them, all the same.
  const early = ({ id, availableAt }: { id: string; availableAt: number }) => (delays.set(id, availableAt), true);
  const lease = ids.length > 0 ? await queue.take(ids.length, { ids, early }) : undefined;
  const claimed = new Set(lease?.entries.map((e) => e.id));
  const missed = ids.filter((id) => !claimed.has(id));
  // None of them is in flight here: they were chosen, and are moved, in one turn of the outbox's serial line.
  if (missed.length > 0) relearn(index, missed.flatMap((id) => index.get(Number(id)) ?? []), await queue.list({ ids: missed }));
  return { moving: list.filter((d) => d.entry.id === '' || claimed.has(d.entry.id)), lease, delays };
}
