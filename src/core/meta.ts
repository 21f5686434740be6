import { encodeUnit, MAX_PAYLOAD, scanFrames } from './frame.js';
import { addRange, findRange, removeRange, type Range } from './ranges.js';

/**
 * Items handed out or held back: a lease (taken by `owner`, until `until`) or, with `lease` empty, a delay (released
 * with `delayMs`: unavailable until `until`). A hold whose `until` has passed no longer holds anything.
 */
export interface Hold {
  readonly lease: string;
  readonly owner: string;
  readonly until: number;
  readonly ranges: readonly Range[];
}

/** `count` attempts for every item of `[start, end)`. */
export type AttemptRun = readonly [start: number, end: number, count: number];

/**
 * A queue's small, atomically replaced state. Items themselves live in segments; an item's sequence number is its
 * segment's id plus its index there. Everything below `head` is gone.
 */
export interface QueueMeta {
  readonly head: number;
  /** Acked items at or above `head`. */
  readonly acked: readonly Range[];
  readonly holds: readonly Hold[];
  /** How often each item at or above `head` was handed out; items never handed out are absent. */
  readonly attempts: readonly AttemptRun[];
}

export const emptyMeta: QueueMeta = { head: 0, acked: [], holds: [], attempts: [] };

const FORMAT = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes for the store, in one checksummed frame so a damaged blob is recognised. */
export function encodeMeta(meta: QueueMeta): Uint8Array {
  const bytes = encoder.encode(JSON.stringify({ v: FORMAT, ...meta }));
  return encodeUnit(bytes, [bytes.length]);
}

/** The meta in `bytes`, or undefined when it fails its checksum or is of an unknown format. */
export function decodeMeta(bytes: Uint8Array): QueueMeta | undefined {
  const { frames } = scanFrames(bytes, 0, MAX_PAYLOAD);
  const frame = frames[0];
  if (!frame) return undefined;
  try {
    const { v, head, acked, holds, attempts } = JSON.parse(decoder.decode(bytes.subarray(frame.start, frame.end)));
    if (v !== FORMAT || !Number.isSafeInteger(head)) return undefined;
    return { head, acked, holds, attempts };
  } catch {
    return undefined;
  }
}

/** The hold over `seq` that still holds at `now`, if any. */
export function holdOf(meta: QueueMeta, seq: number, now: number): Hold | undefined {
  return meta.holds.find((h) => h.until > now && findRange(h.ranges, seq) >= 0);
}

export function isAcked(meta: QueueMeta, seq: number): boolean {
  return seq < meta.head || findRange(meta.acked, seq) >= 0;
}

/** True when every item of `[start, end)` is acked. */
export function allAcked(meta: QueueMeta, start: number, end: number): boolean {
  if (end <= meta.head) return true;
  const at = findRange(meta.acked, Math.max(start, meta.head));
  return at >= 0 && meta.acked[at]![1] >= end;
}

export function attemptsOf(meta: QueueMeta, seq: number): number {
  const run = meta.attempts.find(([s, e]) => seq >= s && seq < e);
  return run ? run[2] : 0;
}

/** `meta` with `ranges` acked: out of every hold and attempt count, and `head` moved past what it can. */
export function ack(meta: QueueMeta, ranges: readonly Range[]): QueueMeta {
  let acked = meta.acked;
  for (const [s, e] of ranges) acked = addRange(acked, Math.max(s, meta.head), e);
  let head = meta.head;
  if (acked[0] && acked[0][0] <= head) {
    head = Math.max(head, acked[0][1]);
    acked = acked.slice(1);
  }
  const holds = withoutRanges(meta.holds, ranges);
  const attempts = meta.attempts.flatMap(([s, e, n]) =>
    removeAll([[s, e]], ranges).map(([a, b]) => [a, b, n] as AttemptRun),
  );
  return { head, acked, holds, attempts };
}

/** `meta` with `ranges` under a new hold, counted as one more attempt each when `attempt`. */
export function hold(meta: QueueMeta, added: Hold, attempt: boolean): QueueMeta {
  const holds = [...withoutRanges(meta.holds, added.ranges), added];
  return { ...meta, holds, attempts: attempt ? bump(meta.attempts, added.ranges) : meta.attempts };
}

/** `meta` with `ranges` taken out of every hold: available again at once. */
export function unhold(meta: QueueMeta, ranges: readonly Range[]): QueueMeta {
  return { ...meta, holds: withoutRanges(meta.holds, ranges) };
}

/** `meta` without holds that ended before `now` or whose owner `isGone`. */
export function prune(meta: QueueMeta, now: number, isGone: (owner: string) => boolean): QueueMeta {
  const holds = meta.holds.filter((h) => h.until > now && !(h.owner && isGone(h.owner)));
  return holds.length === meta.holds.length ? meta : { ...meta, holds };
}

function withoutRanges(holds: readonly Hold[], ranges: readonly Range[]): Hold[] {
  return holds
    .map((h) => ({ ...h, ranges: removeAll(h.ranges, ranges) }))
    .filter((h) => h.ranges.length > 0);
}

function removeAll(from: readonly Range[], ranges: readonly Range[]): Range[] {
  let out = from.slice();
  for (const [s, e] of ranges) out = removeRange(out, s, e);
  return out;
}

/** Attempt runs with every item of `ranges` counted once more. */
function bump(runs: readonly AttemptRun[], ranges: readonly Range[]): AttemptRun[] {
  const points = new Set<number>();
  for (const [s, e] of runs) points.add(s).add(e);
  for (const [s, e] of ranges) points.add(s).add(e);
  const cuts = [...points].sort((a, b) => a - b);
  const out: [number, number, number][] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const s = cuts[i]!;
    const e = cuts[i + 1]!;
    const base = runs.find(([a, b]) => s >= a && s < b)?.[2] ?? 0;
    const count = base + (ranges.some(([a, b]) => s >= a && s < b) ? 1 : 0);
    if (count === 0) continue;
    const last = out[out.length - 1];
    if (last && last[1] === s && last[2] === count) last[1] = e;
    else out.push([s, e, count]);
  }
  return out;
}
