import { append, splice } from './long-lists.js';

/** One run of sequence numbers `[s, e)` and what it maps to. */
export interface Run<V> {
  readonly s: number;
  readonly e: number;
  readonly v: V;
}

/**
 * A map from runs of sequence numbers to values, kept as sorted, disjoint runs; neighbouring runs with the same
 * value (`===`) are merged, so a million acked items are one run. A lookup is a binary search and a change splices
 * only the runs it overlaps, so the cost of an ack or a take does not grow with the runs held elsewhere.
 */
export class Intervals<V> {
  #runs: Run<V>[] = [];

  /** How many runs there are. */
  get size(): number {
    return this.#runs.length;
  }

  get(seq: number): V | undefined {
    const run = this.#runs[this.#after(seq)];
    return run && run.s <= seq ? run.v : undefined;
  }

  /** Where the run holding `seq` ends; `seq` itself when no run holds it. Merged runs make this a jump over them. */
  endOf(seq: number): number {
    const run = this.#runs[this.#after(seq)];
    return run && run.s <= seq ? run.e : seq;
  }

  /** The first run, if any. */
  first(): Run<V> | undefined {
    return this.#runs[0];
  }

  /** The last run, if any. */
  last(): Run<V> | undefined {
    return this.#runs[this.#runs.length - 1];
  }

  /** The runs overlapping `[s, e)`, cut to it, in order. A snapshot: the map may change while it is read. */
  runs(s = -Infinity, e = Infinity): Run<V>[] {
    const out: Run<V>[] = [];
    for (let i = this.#after(s); i < this.#runs.length && this.#runs[i]!.s < e; i++) {
      const run = this.#runs[i]!;
      out.push({ s: Math.max(run.s, s), e: Math.min(run.e, e), v: run.v });
    }
    return out;
  }

  /** Whether some run holds a number of `[s, e)`. */
  overlaps(s: number, e: number): boolean {
    const run = this.#runs[this.#after(s)];
    return run !== undefined && run.s < e && s < e;
  }

  /** How many numbers of `[s, e)` some run holds. */
  count(s: number, e: number): number {
    let n = 0;
    // Summed in place: counting the acked items of a long queue walks every run, and a copy of each was garbage.
    for (let i = this.#after(s); i < this.#runs.length && this.#runs[i]!.s < e; i++) {
      const run = this.#runs[i]!;
      n += Math.min(run.e, e) - Math.max(run.s, s);
    }
    return n;
  }

  set(s: number, e: number, v: V): void {
    const last = this.#runs[this.#runs.length - 1];
    // Past the end of every run, apart (a checkpoint read in order): no search, and no list of pieces to merge, which
    // opening a queue with 100 000 acked runs made by the 100 000.
    if (s < e && !(last && last.e >= s)) this.#runs.push({ s, e, v });
    else this.#replace(s, e, [{ s, e, v }]);
  }

  delete(s: number, e: number): void {
    this.#replace(s, e, []);
  }

  /** Maps every number of `[s, e)` through `fn` (`undefined` in, for numbers no run holds; `undefined` out, to delete). */
  update(s: number, e: number, fn: (v: V | undefined) => V | undefined): void {
    const pieces: Run<V | undefined>[] = [];
    let at = s;
    for (const run of this.runs(s, e)) {
      if (run.s > at) pieces.push({ s: at, e: run.s, v: fn(undefined) });
      pieces.push({ s: run.s, e: run.e, v: fn(run.v) });
      at = run.e;
    }
    if (at < e) pieces.push({ s: at, e, v: fn(undefined) });
    this.#replace(s, e, pieces.filter((p): p is Run<V> => p.v !== undefined));
  }

  /** Index of the first run that ends after `seq`. */
  #after(seq: number): number {
    const runs = this.#runs;
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid]!.e <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Replaces whatever lies in `[s, e)` by `pieces` (sorted, inside it), merging equal neighbours. */
  #replace(s: number, e: number, pieces: readonly Run<V>[]): void {
    if (s >= e) return;
    const runs = this.#runs;
    const i = this.#after(s);
    // Nothing lies in [s, e) (the common case of an ack, or a replay of many): deleting is nothing, and one piece
    // that merges with neither neighbour goes in as it is, without building a list to merge.
    if (i === runs.length || runs[i]!.s >= e) {
      if (pieces.length === 0) return;
      const piece = pieces[0]!;
      const before = runs[i - 1];
      const after = runs[i];
      if (pieces.length === 1 && !(before && before.e === piece.s && before.v === piece.v) && !(after && after.s === piece.e && after.v === piece.v)) {
        if (i === runs.length) runs.push(piece);
        else runs.splice(i, 0, piece);
        return;
      }
    }
    let j = i;
    while (j < runs.length && runs[j]!.s < e) j++;
    // The runs just outside take part too, so that a piece equal to its neighbour merges with it.
    const from = i > 0 ? i - 1 : i;
    const to = j < runs.length ? j + 1 : j;
    const list: Run<V>[] = [];
    if (from < i) list.push(runs[from]!);
    if (i < j && runs[i]!.s < s) list.push({ s: runs[i]!.s, e: s, v: runs[i]!.v });
    append(list, pieces);
    if (i < j && runs[j - 1]!.e > e) list.push({ s: e, e: runs[j - 1]!.e, v: runs[j - 1]!.v });
    if (j < to) list.push(runs[j]!);
    const merged: Run<V>[] = [];
    for (const run of list) {
      const last = merged[merged.length - 1];
      if (last && last.e === run.s && last.v === run.v) merged[merged.length - 1] = { s: last.s, e: run.e, v: run.v };
      else merged.push(run);
    }
    splice(runs, from, to - from, merged);
  }
}
