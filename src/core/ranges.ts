/** A half-open run of sequence numbers `[start, end)`. */
export type Range = readonly [start: number, end: number];

// Sets of sequence numbers kept as sorted, disjoint, non-adjacent ranges: acks arrive in runs, so a million acked
// items are usually one pair of numbers. Every function returns a new array and leaves its inputs alone.

/** The union of `ranges` and `[start, end)`. */
export function addRange(ranges: readonly Range[], start: number, end: number): Range[] {
  if (start >= end) return ranges.slice();
  const out: Range[] = [];
  let i = 0;
  while (i < ranges.length && ranges[i]![1] < start) out.push(ranges[i++]!);
  let s = start;
  let e = end;
  while (i < ranges.length && ranges[i]![0] <= e) {
    s = Math.min(s, ranges[i]![0]);
    e = Math.max(e, ranges[i]![1]);
    i++;
  }
  out.push([s, e]);
  while (i < ranges.length) out.push(ranges[i++]!);
  return out;
}

/** `ranges` without `[start, end)`. */
export function removeRange(ranges: readonly Range[], start: number, end: number): Range[] {
  if (start >= end) return ranges.slice();
  const out: Range[] = [];
  for (const [s, e] of ranges) {
    if (e <= start || s >= end) out.push([s, e]);
    else {
      if (s < start) out.push([s, start]);
      if (e > end) out.push([end, e]);
    }
  }
  return out;
}

/** Sorted sequence numbers as ranges. */
export function toRanges(seqs: readonly number[]): Range[] {
  const out: [number, number][] = [];
  for (const seq of seqs) {
    const last = out[out.length - 1];
    if (last && last[1] === seq) last[1]++;
    else out.push([seq, seq + 1]);
  }
  return out;
}

/** Index of the range holding `seq`, or -1. */
export function findRange(ranges: readonly Range[], seq: number): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [s, e] = ranges[mid]!;
    if (seq < s) hi = mid - 1;
    else if (seq >= e) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** How many numbers of `[start, end)` lie in `ranges`. */
export function countIn(ranges: readonly Range[], start: number, end: number): number {
  let n = 0;
  for (const [s, e] of ranges) n += Math.max(0, Math.min(e, end) - Math.max(s, start));
  return n;
}

/** Every number in `ranges`, in order. */
export function* numbers(ranges: readonly Range[]): Generator<number> {
  for (const [s, e] of ranges) for (let n = s; n < e; n++) yield n;
}
