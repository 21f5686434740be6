import { describe, SluiceError } from './errors.js';

// Random bytes are drawn from the platform's CSPRNG (browsers, workers, Node >= 19) a pool at a time: one call per
// 64 ids instead of one per id, which an enqueue of many tasks would otherwise pay for each.
const pool = new Uint8Array(512);
let used = pool.length;
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** A random id of 16 hex digits. */
export function randomId(): string {
  if (used + 8 > pool.length) {
    globalThis.crypto.getRandomValues(pool);
    used = 0;
  }
  let out = '';
  for (let i = used; i < used + 8; i++) out += HEX[pool[i]!]!;
  used += 8;
  return out;
}

const owned = new WeakMap<object, string>();

/**
 * A random id of `object`'s own, the same for as long as it lives: tells apart objects that say nothing else of where
 * they keep things (a Cluster client, an IndexedDB factory), in a store's scope.
 */
export function idOf(object: object): string {
  let id = owned.get(object);
  if (id === undefined) owned.set(object, (id = randomId()));
  return id;
}

/** `remove('5')` is the likely slip: one id, not in an array. */
function notArray(ids: unknown, kind = 'entry ids'): never {
  throw new SluiceError('ERR_INVALID_OPTION', `Expected \`ids\` to be an array of ${kind}, got ${typeof ids === 'string' ? `the string ${JSON.stringify(ids)}: pass [${JSON.stringify(ids)}]` : describe(ids)}.`);
}

/** What `ids[i]` holds, as a message says it: a hole (`[, '1']`) is no id, though `map` and `every` skip it. */
function held(ids: readonly unknown[], i: number): string {
  return i in ids ? describe(ids[i]) : 'a hole in the array';
}

/** Entry ids (decimal sequence numbers) as sorted, distinct numbers; 'ERR_INVALID_OPTION' for anything else. */
export function parseIds(ids: readonly string[]): number[] {
  if (!Array.isArray(ids)) notArray(ids);
  const seqs = Array.from(ids, (id, i) => {
    const seq = typeof id === 'string' && /^\d{1,16}$/.test(id) ? Number(id) : NaN;
    if (!Number.isSafeInteger(seq)) throw new SluiceError('ERR_INVALID_OPTION', `Expected \`ids\` to hold entry ids, got ${held(ids, i)}.`);
    return seq;
  });
  return [...new Set(seqs)].sort((a, b) => a - b);
}

/**
 * `ids`, checked to be an array of strings (an outbox's task ids): 'ERR_INVALID_OPTION' naming the first that is not.
 * Task objects given for their ids (what `Outbox.list` resolves) would otherwise match none, and remove nothing.
 */
export function taskIds(ids: readonly string[]): readonly string[] {
  if (!Array.isArray(ids)) notArray(ids, 'task ids');
  for (let i = 0; i < ids.length; i++) {
    if (typeof ids[i] !== 'string') throw new SluiceError('ERR_INVALID_OPTION', `Expected \`ids\` to hold task ids (strings), got ${held(ids, i)} at index ${i}.`);
  }
  return ids;
}

/** `ids`, checked to name only entries of one lease (`own`): 'ERR_INVALID_OPTION' for anything else. */
export function leaseIds(ids: readonly string[], own: ReadonlySet<string>): readonly string[] {
  if (!Array.isArray(ids)) notArray(ids);
  for (let i = 0; i < ids.length; i++) {
    if (!own.has(ids[i]!)) throw new SluiceError('ERR_INVALID_OPTION', `Expected \`ids\` to hold ids of this lease's entries (strings, as \`entries[i].id\`), got ${held(ids, i)}.`);
  }
  return ids;
}

/**
 * Entry ids of a partitioned queue: partition `p`'s item `seq` is `p * 2^40 + seq`, so partition 0's ids are its
 * sequence numbers (a queue of one partition has ids as it always had), and every id stays a safe integer for up to
 * 8192 partitions of a trillion items each (a push past its partition's 2^40th item is refused: see `GroupCommit.flush`).
 */
export const PARTITION_SPAN = 2 ** 40;

export function partitionOf(id: number): [partition: number, seq: number] {
  return [Math.floor(id / PARTITION_SPAN), id % PARTITION_SPAN];
}

/** The entry id of partition `p`'s item `seq`: `partitionOf` undone. */
export function entryId(p: number, seq: number): string {
  return String(p * PARTITION_SPAN + seq);
}

/** Entry ids grouped by partition, as sequence numbers. */
export function byPartition(ids: readonly string[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const id of parseIds(ids)) {
    const [p, seq] = partitionOf(id);
    if (!out.has(p)) out.set(p, []);
    out.get(p)!.push(seq);
  }
  return out;
}
