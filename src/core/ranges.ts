/** A half-open run of sequence numbers `[start, end)`. */
export type Range = readonly [start: number, end: number];

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
