import { leaseIds, PARTITION_SPAN, partitionOf } from './ids.js';
import type { CorruptDetail, RecoverDetail } from './events.js';
import type { Partition } from './partition.js';
import type { Lease, QueueStats, ReleaseOptions } from './queue-types.js';

/**
 * One lease over the leases taken from several partitions: entry ids carry their partition, and an ack or a release
 * goes to each partition's lease with its own ids. Each partition commits on its own, so an ack spanning
 * partitions is not one atomic step: each item is acked exactly once all the same.
 */
export function combine<T>(taken: readonly (readonly [partition: number, lease: Lease<T>])[]): Lease<T> {
  const entries = taken.flatMap(([p, lease]) => lease.entries.map((e) => ({ ...e, id: String(p * PARTITION_SPAN + Number(e.id)) })));
  const own = new Set(entries.map((e) => e.id));
  const split = (ids: readonly string[] | undefined): [Lease<T>, string[] | undefined][] => {
    if (ids === undefined) return taken.map(([, lease]) => [lease, undefined]);
    const out = new Map<Lease<T>, string[]>();
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
      for (const [lease, part] of split(ids)) await lease.ack(part);
    },
    async release(ids, options?: ReleaseOptions) {
      for (const [lease, part] of split(ids)) await lease.release(part, options);
    },
  };
}

/** `detail` with the ids of partition `p` as the queue gives them (partition 0's are its own). */
export function inPartition<D extends RecoverDetail | CorruptDetail>(detail: D, p: number): D {
  if (p === 0) return detail;
  const id = (seq: string) => String(p * PARTITION_SPAN + Number(seq));
  const out: Record<string, unknown> = { ...detail };
  if ('lost' in detail) out.lost = detail.lost.map(id);
  if ('again' in detail && detail.again) out.again = detail.again.map(id);
  if ('from' in detail && detail.from !== undefined) out.from = id(detail.from);
  if ('to' in detail && detail.to !== undefined) out.to = id(detail.to);
  return out as D;
}

/** The partitions' stats as the queue's. */
export function sum(stats: readonly QueueStats[]): QueueStats {
  const all = { size: 0, leased: 0, delayed: 0, segments: 0, bytes: 0 };
  for (const s of stats) for (const k of Object.keys(all) as (keyof QueueStats)[]) all[k] += s[k];
  return all;
}

/**
 * Takes up to `max` items from `parts`, from `start` (this handle's partition of the moment) first, then the others
 * in turn. A handle stays with its partition while it takes there without contention; when another handle got in
 * its way there, or nothing was left, it moves to a partition that, as far as it last read, holds items and no other
 * handle's leases (one at random, so that handles that met do not move together), else to any other. Partitions
 * visited only to fill up `max` do not become its own. Resolves the leases taken and where to start next time.
 */
export async function takeInTurn<T>(
  parts: readonly Partition<T>[],
  start: number,
  max: number,
  take: (part: Partition<T>, p: number, max: number) => Promise<Lease<T> | undefined>,
  random: () => number = Math.random,
): Promise<{ taken: [number, Lease<T>][]; next: number }> {
  const taken: [number, Lease<T>][] = [];
  let next = start;
  let got = 0;
  for (let i = 0; i < parts.length && got < max; i++) {
    const p = (start + i) % parts.length;
    const { view } = parts[p]!;
    const conflicts = view.conflicts;
    const lease = await take(parts[p]!, p, max - got);
    const met = view.conflicts > conflicts;
    if (p === start && (met || !lease)) next = elsewhere(parts, p, random);
    if (!lease) continue;
    taken.push([p, lease]);
    got += lease.entries.length;
  }
  return { taken, next };
}

/** Another partition than `p`: one that holds items and no other handle's leases, as last read, when there is one. */
function elsewhere<T>(parts: readonly Partition<T>[], p: number, random: () => number): number {
  const free: number[] = [];
  for (let q = 0; q < parts.length; q++) {
    if (q === p) continue;
    const { view, owner } = parts[q]!;
    if (view.size > 0 && [...view.state.holds.owners()].every((o) => o === owner)) free.push(q);
  }
  if (free.length > 0) return free[Math.floor(random() * free.length)]!;
  return (p + 1 + Math.floor(random() * (parts.length - 1))) % parts.length;
}

/** A key's partition: FNV-1a, so that every handle places a key alike. */
export function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
