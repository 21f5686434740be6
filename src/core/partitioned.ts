import { entryId, leaseIds, partitionOf } from './ids.js';
import type { CorruptDetail, RecoverDetail } from './events.js';
import { CHECK_ACK, UNTAKE, type PartLease } from './leasing.js';
import type { Partition } from './partition.js';
import type { Lease, QueueStats, ReleaseOptions } from './queue-types.js';

/**
 * One lease over the leases taken from several partitions: entry ids carry their partition, and an ack or a release
 * goes to each partition's lease with its own ids. Each partition commits on its own, so an ack spanning
 * partitions is not one atomic step: each item is acked exactly once all the same. It checks every part before it
 * acks any, so that one refused (an item another lease took) acks none; only a lease running out between the check
 * and the acks can still be refused part way.
 */
export function combine<T>(taken: readonly (readonly [partition: number, lease: PartLease<T>])[]): Lease<T> {
  const entries = taken.flatMap(([p, lease]) => lease.entries.map((e) => ({ ...e, id: entryId(p, Number(e.id)) })));
  const own = new Set(entries.map((e) => e.id));
  const split = (ids: readonly string[] | undefined): [PartLease<T>, string[] | undefined][] => {
    if (ids === undefined) return taken.map(([, lease]) => [lease, undefined]);
    const out = new Map<PartLease<T>, string[]>();
    for (const id of leaseIds(ids, own)) {
      const [p, seq] = partitionOf(Number(id));
      const lease = taken.find(([q]) => q === p)![1];
      if (!out.has(lease)) out.set(lease, []);
      out.get(lease)!.push(String(seq));
    }
    return [...out];
  };
  return {
    entries,
    expiresAt: Math.min(...taken.map(([, lease]) => lease.expiresAt)),
    async ack(ids) {
      const parts = split(ids);
      // One part is all or nothing by itself: the check, a read of the storage more, is for several.
      if (parts.length > 1) for (const [lease, part] of parts) await lease[CHECK_ACK](part);
      for (const [lease, part] of parts) await lease.ack(part);
    },
    async release(ids, options?: ReleaseOptions) {
      for (const [lease, part] of split(ids)) await lease.release(part, options);
    },
  };
}

/** `detail` with the ids of partition `p` as the queue gives them (partition 0's are its own). */
export function inPartition<D extends RecoverDetail | CorruptDetail>(detail: D, p: number): D {
  if (p === 0) return detail;
  const id = (seq: string) => entryId(p, Number(seq));
  const out: Record<string, unknown> = { ...detail };
  if ('lost' in detail) out.lost = detail.lost.map(id);
  if ('again' in detail && detail.again) out.again = detail.again.map(id);
  if ('from' in detail && detail.from !== undefined) out.from = id(detail.from);
  if ('to' in detail && detail.to !== undefined) out.to = id(detail.to);
  return out as D;
}

/** How many items `parts` hold, read side by side: one round trip to a remote store, not one per partition. */
export async function sizeOf(parts: readonly Partition<unknown>[]): Promise<number> {
  return (await Promise.all(parts.map((part) => part.size()))).reduce((a, b) => a + b, 0);
}

/** The partitions' stats as the queue's. */
export function sum(stats: readonly QueueStats[]): QueueStats {
  const all = { size: 0, leased: 0, delayed: 0, segments: 0, bytes: 0 };
  for (const s of stats) for (const k of Object.keys(all) as (keyof QueueStats)[]) all[k] += s[k];
  return all;
}

/**
 * Takes up to `max` items from `parts`, visiting them in `order`: the first `own` (this handle's, see `Members`)
 * until it has `max`, then, only when those had nothing, the others until one has something. A handle whose own
 * partitions ran dry helps with one other partition per take (the order moves on each time, so helpers spread out),
 * so it meets that partition's handle on one commit at most. It stops at the first that has items, not at the first
 * visited: a take that found nothing must have looked everywhere, or it would report an empty queue while items wait
 * in a partition it skipped, and an iterator would sleep on them (nothing wakes it for items already there).
 * Resolves the leases taken, and whether another handle committed to the first partition visited meanwhile: a handle
 * meeting this one where it takes first.
 */
export async function takeInTurn<T>(
  parts: readonly Partition<T>[],
  { order, own }: { readonly order: readonly number[]; readonly own: number },
  max: number,
  take: (part: Partition<T>, p: number, max: number) => Promise<PartLease<T> | undefined>,
): Promise<{ taken: [number, PartLease<T>][]; met: boolean }> {
  const taken: [number, PartLease<T>][] = [];
  let met = false;
  let got = 0;
  try {
    for (let i = 0; i < order.length && got < max && (i < own || got === 0); i++) {
      const p = order[i]!;
      const { view } = parts[p]!;
      const conflicts = view.conflicts;
      const lease = await take(parts[p]!, p, max - got);
      if (i === 0) met = view.conflicts > conflicts;
      if (!lease) continue;
      taken.push([p, lease]);
      got += lease.entries.length;
    }
  } catch (error) {
    // A take that rejects (aborted, refused, failed in a later partition) changes nothing: what the partitions before
    // gave is given back. Where that fails too, those items stay leased until their lease ends or the handle closes;
    // the take's own error is the one to tell.
    for (const [, lease] of taken) await lease[UNTAKE]().catch(() => undefined);
    throw error;
  }
  return { taken, met };
}

/** The storage name of partition `p` of the queue `name`: the first keeps the queue's own. */
export function partitionName(name: string, p: number): string {
  return p === 0 ? name : `${name}.p${p}`;
}

/** The storage name of the list of handles taking from the partitioned queue `name` (see `Members`). */
export function membersName(name: string): string {
  return `${name}.pm`;
}

/** The partitioned queue whose part (a partition past the first, or the list of its handles) `storage` names, if any. */
export function partOf(storage: string): string | undefined {
  return /^(.+)\.p(?:[1-9]\d*|m)$/.exec(storage)?.[1];
}

/** A key's partition: FNV-1a, so that every handle places a key alike. */
export function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
