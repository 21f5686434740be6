import type { Lease } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { entryBytes, type BatchFit } from './batch-fit.js';
import { packBatches } from './batching.js';
import { chainUnits } from './chains.js';
import { ackLater } from './ack-later.js';
import { holdUntilExpiry } from './acknowledge.js';
import type { DeliveryRun, Entry } from './delivery.js';
import type { DispatcherContext } from './dispatcher-context.js';
import { relearn } from './gone.js';
import type { ResolvedOutboxOptions } from './options.js';
import type { Pending, PendingIndex } from './pending.js';
import type { Buffered } from './take-ahead.js';
import { unrecalled } from './recall.js';
import type { StoredTask } from './task.js';

/** What leasing tasks needs of the dispatcher. */
export interface LeaseContext {
  readonly options: ResolvedOutboxOptions;
  readonly queue: Queue<StoredTask>;
  readonly index: PendingIndex;
  /** With `batch`, how large batches are made (see `BatchFit`). */
  readonly batchFit: BatchFit | undefined;
  /** Puts taken entries back, as if never taken. */
  readonly giveBack: (entries: Entry[], lease: Lease<StoredTask>) => Promise<void>;
  /**
   * Of `entries`, taken back from leases that ended unsettled, those whose holder died moving them to dead: removed
   * here, their letters standing. Of `retried`, tasks put back by a dead-letter retry, the letters still standing are
   * deleted. Resolves the ids not to deliver now (see `DeadMoves.finishCutShort`).
   */
  readonly buried: (entries: readonly Entry[], lease: Lease<StoredTask>, retried: readonly Entry[]) => Promise<ReadonlySet<string>>;
}

/** With ordering, a lane is a chain of several tasks at a time, sent one after another (without batches). */
export function chainsLanes(options: ResolvedOutboxOptions): boolean {
  return !options.batch && options.ordering !== 'none';
}

/**
 * Leases the tasks `chosen` on the index for `run`, in units (chains of a lane, batches, or one task each): the
 * queue is asked for exactly those, the index learns where the ones it did not give are, and what was taken but
 * cannot go in a unit goes back untried. `asOne`: all that was taken, in one unit (to bury, in no order).
 */
export async function leaseUnits(c: LeaseContext, chosen: Pending[], run: DeliveryRun, asOne = false): Promise<Buffered[]> {
  const { index, queue } = c;
  const ids = chosen.map((p) => String(p.seq));
  let lease: Lease<StoredTask> | undefined;
  try {
    // The index decides when a task may go: a delay stored in the queue (for restarts) that it knows of may be
    // brought forward (the network is back, the wall clock stepped back). One it does not know of, another
    // process's (a Retry-After), is kept to: the take passes the task over, and the index learns of the delay.
    const early = ({ id, availableAt }: { id: string; availableAt: number }) => availableAt <= (index.get(Number(id))?.storedUntil ?? 0);
    lease = await queue.take(ids.length, { ids, early });
  } catch (error) {
    for (const p of chosen) index.ready(p);
    throw error;
  }
  try {
    return await unitsOf(c, chosen, lease, run, asOne);
  } catch (error) {
    // Taken, and not handed on (the store failed as the take was looked at): given back untried, or where that fails
    // too, held until the lease ends; those not taken are free again. Never held by this handle for good.
    const held = new Set(chosen.filter((p) => index.get(p.seq) === p && p.state === 'busy').map((p) => String(p.seq)));
    const back = (lease?.entries ?? []).filter((e) => held.delete(e.id));
    for (const seq of held) index.ready(index.get(Number(seq))!);
    if (lease) await c.giveBack(back, lease);
    throw error;
  }
}

/** What `leaseUnits` makes of the `lease` it took of `chosen`. */
async function unitsOf(c: LeaseContext, chosen: Pending[], lease: Lease<StoredTask> | undefined, run: DeliveryRun, asOne: boolean): Promise<Buffered[]> {
  const { options, index, queue } = c;
  const chained = chainsLanes(options);
  const taken = new Map((lease?.entries ?? []).map((e) => [e.id, e]));
  let heldAway: Entry[] | undefined;
  let retried: Entry[] | undefined;
  for (const p of chosen) {
    const entry = taken.get(String(p.seq));
    // One not taken (held or delayed by another handle) is looked at when it is: until then, it may still be dead.
    if (!entry) continue;
    // A take ends the delays the queue held: the next is whatever this lease's release sets.
    p.storedUntil = 0;
    // Held by this lease until its request starts (not one taken to bury, which makes none).
    p.ahead = asOne ? undefined : lease;
    // Taken by another since this handle last knew (attempts it did not see): one whose lease this handle never saw
    // (or that was given back after its holder could not look for its letter) may have been left mid-burial too.
    if (p.heldAway || entry.attempts > p.attempts + 1) (heldAway ??= []).push(entry);
    if (p.retriedFrom !== undefined) (retried ??= []).push(entry);
    p.heldAway = false;
  }
  if (heldAway || retried) {
    const buried = await c.buried(heldAway ?? [], lease!, retried ?? []);
    for (const id of buried) taken.delete(id);
    if (buried.size > 0) chosen = chosen.filter((p) => !buried.has(String(p.seq)));
  }
  const missing = chosen.filter((p) => !taken.has(String(p.seq)));
  // Gone (another handle delivered or removed them) or held by another handle: the index learns which.
  if (missing.length > 0) relearn(index, missing, await queue.list({ ids: missing.map((p) => String(p.seq)) }));
  if (!lease) return [];
  if (asOne) return [{ unit: chainUnits(chosen, taken, { chained: true, ordered: false }).units.flat(), lease, run }];
  const { units, late } = chainUnits(chosen, taken, { chained, ordered: options.ordering !== 'none' });
  if (late.length > 0) await c.giveBack(late, lease);
  if (!options.batch) return units.map((unit) => ({ unit, lease: lease!, run }));
  const packed = packBatches(units.flat(), options.ordering, c.batchFit!.limits, {
    bytesOf: (e) => entryBytes(index, e),
    batchedWith: (e) => index.get(Number(e.id))?.batchedWith,
  });
  if (packed.leftover.length > 0) await c.giveBack(packed.leftover, lease);
  return packed.units.map((unit) => ({ unit, lease: lease!, run }));
}

/**
 * Puts taken entries back, as if never taken: the take made no request, so the queue takes its attempt back too,
 * and `retry.maxAttempts` counts requests, in this handle, in others and after a restart. Should the release fail,
 * they are still leased as far as this handle knows: the failure is told, and they go again once the lease ends
 * (their attempt counted), as a killed process leaves them; never held here for good.
 */
export function giveBack(c: GiveBackContext, entries: Entry[], lease: Lease<StoredTask>): Promise<void> {
  // Those `recall` took back are given back already: the index may have them taken again, by another lease.
  return putBack(c, unrecalled(entries, lease), lease);
}

type GiveBackContext = Pick<DispatcherContext, 'index' | 'coordination' | 'emit' | 'options'> & { readonly kick: () => void };

/** `giveBack` of `entries` all, `recall`'s too. */
export async function putBack(c: GiveBackContext, entries: Entry[], lease: Lease<StoredTask>): Promise<void> {
  if (entries.length === 0) return;
  const ids = entries.map((e) => e.id);
  try {
    await lease.release(ids, { untried: true });
  } catch (error) {
    // Given back again in the background while the lease holds them here, as a failed ack is made again: a store that
    // failed for a moment must not hold them (and their lane) until the lease ends, charged an attempt never made.
    c.emit('error', { error });
    holdUntilExpiry(c, ids, lease);
    return ackLater(c, ids, lease, async () => putBackDone(c, entries, ids), undefined, () => lease.release(ids, { untried: true }));
  }
  putBackDone(c, entries, ids);
}

/** The index learns that `entries` went back untried: ready again, their attempt not counted. */
function putBackDone(c: GiveBackContext, entries: Entry[], ids: string[]): void {
  // Another handle that tried to take them found them leased, and waits for the lease to end: not any more.
  c.coordination.post({ type: 'released', detail: { ids: entries.map((e) => e.value.id), entries: ids } });
  for (const e of entries) {
    const pending = c.index.get(Number(e.id));
    if (!pending) continue;
    pending.ahead = undefined;
    pending.attempts = Math.max(0, pending.attempts - 1);
    c.index.ready(pending);
  }
}
