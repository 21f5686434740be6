import { SluiceError, type SluiceErrorCode } from './errors.js';
import { byPartition, entryId, leaseIds, parseIds, partitionOf } from './ids.js';
import { append } from './long-lists.js';
import type { CorruptDetail, RecoverDetail } from './events.js';
import { CHECK, CHECK_ACK, IN_DOUBT, UNTAKE, type PartLease } from './part-lease.js';
import type { Partition } from './partition.js';
import type { Members } from './members.js';
import type { Lease, ListOptions, QueueEntry, QueueStats, ReleaseOptions, TakeOptions } from './queue-types.js';

/**
 * One lease over the leases taken from several partitions: entry ids carry their partition, and an ack or a release
 * goes to each partition's lease with its own ids. Each partition commits on its own, so an ack or a release spanning
 * partitions is not one atomic step: each item is acked exactly once all the same. An ack checks every part before
 * it acks any, so that one refused (an item another lease took) or a partition that cannot be read acks none; a
 * release checks that every partition can be read. Only a store failing a commit (or a lease running out between
 * the check and the acks) can still stop one part way, and then the error says which partitions are done (see
 * `inTurn`): the same call again does the rest.
 */
export function combine<T>(taken: readonly (readonly [partition: number, lease: PartLease<T>])[]): Lease<T> & Pick<PartLease<T>, typeof IN_DOUBT> {
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
    get expiresAt() {
      return Math.min(...taken.map(([, lease]) => lease.expiresAt));
    },
    [IN_DOUBT]: () => taken.some(([, lease]) => lease[IN_DOUBT]()),
    async ack(ids) {
      const parts = split(ids);
      // One part is all or nothing by itself: the check, a read of the storage more, is for several.
      if (parts.length > 1) for (const [lease, part] of parts) await lease[CHECK_ACK](part);
      await inTurn(parts, ([lease, part]) => lease.ack(part), partitions, 'acked');
    },
    async extend(leaseMs?: number) {
      const parts = split(undefined);
      // Refused where an ack would be (another lease took items since): every part is checked before any is extended.
      if (parts.length > 1) for (const [lease] of parts) await lease[CHECK_ACK]();
      await inTurn(parts, ([lease]) => lease.extend(leaseMs), partitions, 'extended');
    },
    async release(ids, options?: ReleaseOptions) {
      const parts = split(ids);
      if (parts.length > 1) for (const [lease] of parts) await lease[CHECK]();
      await inTurn(parts, ([lease, part]) => lease.release(part, options), partitions, 'released');
    },
  };
  /** The partitions of `parts` (as `split` makes them), in order. */
  function partitions(parts: readonly [PartLease<T>, unknown][]): number[] {
    return parts.map(([lease]) => taken.find(([, l]) => l === lease)![0]);
  }
}

/** Codes of refusals, which change nothing: not a store's failure, which may leave its commit made or not. */
const REFUSALS = new Set<SluiceErrorCode>(['ERR_LEASE_EXPIRED', 'ERR_CORRUPT', 'ERR_CLOSED', 'ERR_INVALID_OPTION']);

/**
 * Runs `step` on each of `parts` in turn, each a commit to one partition of its own. A failure after some committed
 * cannot take theirs back (an ack or a removal is for good; a release, once others may have taken the items, too):
 * the error (its code the failure's own) says which partitions are done, whether the failing one's commit may have
 * landed (a store's failure) or not (a refusal), and that those after it were not touched. Each of these calls skips what is
 * done already, so the same call made again does the rest. Resolves the sum of the steps' counts (those that count).
 */
export async function inTurn<S>(parts: readonly S[], step: (part: S) => Promise<unknown>, numbers: (parts: readonly S[]) => number[], did: string): Promise<number> {
  let total = 0;
  for (let i = 0; i < parts.length; i++) {
    try {
      const counted = await step(parts[i]!);
      if (typeof counted === 'number') total += counted;
    } catch (error) {
      if (i > 0 && error instanceof Error) {
        const p = numbers(parts);
        // A refusal changed nothing where it was made; a store's failure may have committed all the same.
        const refused = error instanceof SluiceError && REFUSALS.has(error.code);
        const done = `partition${i > 1 ? 's' : ''} ${p.slice(0, i).join(', ')} ${did} before this`;
        const later = p.slice(i + 1).join(', ');
        // Every part was checked first: a lease refused now ran out, and another took its items after the check.
        const taken = error instanceof SluiceError && error.code === 'ERR_LEASE_EXPIRED';
        error.message += refused
          ? ` (${done}; partition ${p[i]} not${later ? `, nor ${later}` : ''}: ${taken ? 'another lease took its items after they were checked, and the same call again is refused while it holds them' : 'the same call again does the rest'})`
          : ` (${done}; partition ${p[i]} maybe${later ? `; ${later} not` : ''}: the same call again does the rest)`;
      }
      throw error;
    }
  }
  return total;
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

/** Unacked entries of `parts` as `Queue.list` gives them (options checked), ids carrying their partition. */
export async function listAcross<T>(parts: readonly Partition<T>[], o: ListOptions): Promise<QueueEntry<T>[]> {
  const { limit = Infinity, after, ids, partition } = o;
  const [start, from] = after === undefined ? [partition ?? 0, 0] : partitionOf(parseIds([after])[0]! + 1);
  const wanted = ids && byPartition(ids);
  const out: QueueEntry<T>[] = [];
  for (let p = start; p < parts.length; p++) {
    if ((wanted && !wanted.has(p)) || (partition !== undefined && p !== partition)) continue;
    const entries = await parts[p]!.list(limit - out.length, p === start ? from : 0, wanted?.get(p));
    append(out, p === 0 ? entries : entries.map((e) => ({ ...e, id: entryId(p, Number(e.id)) })));
  }
  return out;
}

/**
 * `Queue.take` of a queue of several partitions: each handle takes from partitions of its own first (`members`), and
 * items chosen by id wherever they are.
 */
export async function takeAcross<T>(parts: readonly Partition<T>[], members: Members, max: number, leaseMs: number, o: TakeOptions<T>): Promise<Lease<T> | undefined> {
  const wanted = o.ids && byPartition(o.ids);
  const { order, own } = await members.order(parts.length);
  const { taken, met } = await takeInTurn(parts, { order, own: wanted ? order.length : own, signal: o.signal }, max, async (part, p, n) => {
    if (!wanted) return part.take(n, leaseMs, o);
    const ids = wanted.get(p);
    // A partition knows its own sequence numbers; the caller's `early` is given entry ids.
    const { early } = o;
    const forward = typeof early === 'function' ? (e: { id: string; availableAt: number }) => early({ ...e, id: entryId(p, +e.id) }) : early;
    return ids && part.take(n, leaseMs, { ...o, ids: ids.map(String), early: forward });
  });
  if (met) members.suspect();
  return taken.length === 0 ? undefined : combine(taken);
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
  { order, own, signal }: { readonly order: readonly number[]; readonly own: number; readonly signal?: AbortSignal | undefined },
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
    // Aborted once a partition committed its part: the take committed, and resolves what it took, as a take from one
    // partition aborted while it commits does (see `TakeOptions.signal`). Giving it back instead could fail, and leave
    // the items leased to nobody until the lease ends.
    if (got > 0 && signal?.aborted && error === signal.reason) return { taken, met };
    // A take that rejects (refused, failed in a later partition) changes nothing: what the partitions before gave is
    // given back. Where that fails too, it is made again in the background (see `UnknownTakes.later`), and the take's
    // own error says until when those items may stay leased.
    const kept: [number, PartLease<T>][] = [];
    for (const part of taken) await part[1][UNTAKE]().catch(() => kept.push(part));
    if (kept.length > 0 && error instanceof Error) {
      const count = kept.reduce((sum, [, lease]) => sum + lease.entries.length, 0);
      const until = new Date(Math.min(...kept.map(([, lease]) => lease.expiresAt))).toISOString();
      error.message += ` (${count} item${count > 1 ? 's' : ''} of partition${kept.length > 1 ? 's' : ''} ${kept.map(([p]) => p).join(', ')} not given back yet: given back in the background, leased until ${until} at most)`;
    }
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
