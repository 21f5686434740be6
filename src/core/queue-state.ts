import { SluiceError } from './errors.js';
import { Holds } from './holds.js';
import { Intervals } from './intervals.js';
import type { Range } from './ranges.js';

/** Ranges flattened for storage: `[s0, e0, s1, e1, …]`. */
export type Flat = readonly number[];

/**
 * One change to a queue's state, as appended to its metadata. Applying the same ops in the same order gives the same
 * state in every handle, which is what lets a handle catch up by reading only what was appended since it last looked.
 */
export type Op =
  /**
   * Take: `ranges` leased to `owner` under `lease` until `until`, one more attempt each; with `tries` 0, an extension
   * of the lease (`Lease.extend`), no attempt counted. (Versions before extensions read one as a take, one attempt more.)
   */
  | readonly ['t', lease: string, owner: string, until: number, ranges: Flat, tries?: 0]
  /**
   * Release: `ranges` out of their holds; with `until`, held back as a delay until then; with `untried` 1, the take
   * made no attempt at them, so each counts one attempt less.
   */
  | readonly ['u', ranges: Flat, until?: number | null, untried?: 1]
  /** Ack: `ranges` removed for good. */
  | readonly ['a', ranges: Flat]
  /** Every hold of `owner` ends (it closed, or it is gone). */
  | readonly ['o', owner: string]
  /**
   * The writer's next sequence number when it wrote: how far the queue had grown (a floor for later readers); with
   * where its tail segment then ended (see `QueueState.grown`). Readers that know only `next` ignore the rest.
   */
  | readonly ['n', next: number, segment?: number, end?: number]
  /**
   * The queue is made of `count` partitions. Recorded in every partition: the first's is the queue's count, read by
   * every open; the others' let a handle's commit there find out that the count changed (see `Partition`).
   */
  | readonly ['k', count: number]
  /**
   * A repair: everything known of numbers at or past `from` is forgotten (their items were cut off or lost), and the
   * numbers `[from, to)` are void: acked, never handed out, never given to a new item.
   */
  | readonly ['c', from: number, to: number];

export const flat = (ranges: readonly Range[]): number[] => ranges.flatMap(([s, e]) => [s, e]);

export function unflat(list: Flat): Range[] {
  const out: Range[] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
}

/**
 * A queue's small state: what is acked, held and how often tried. Items themselves live in segments; an item's
 * sequence number is its segment's id plus its index there. Everything below `head` is gone.
 */
export class QueueState {
  head = 0;
  /** How far the queue is known to have grown: no item number below it is ever given out again. */
  floor = 0;
  /**
   * How many partitions the queue is made of, as this partition records it: undefined when none was ever recorded (a
   * queue of one partition that never changed it), 0 when the metadata that recorded it was lost (see `CommitView`).
   */
  partitions: number | undefined;
  /**
   * The last record of growth that said where the tail was: the items of `segment` that were in its first `end` bytes
   * all had numbers below `next`. A segment of which more was recorded and lost then held at most the items past
   * `next` that fit in its bytes past `end`: without it, every lost byte of a tail may have been an item of its own.
   */
  grown: { readonly next: number; readonly segment: number; readonly end: number } | undefined;
  /** Acked items at or above `head`. */
  readonly acked = new Intervals<true>();
  /** How often each item at or above `head` was handed out; items never handed out are absent. */
  readonly attempts = new Intervals<number>();
  readonly holds = new Holds();

  isAcked(seq: number): boolean {
    return seq < this.head || this.acked.get(seq) === true;
  }

  /** True when every item of `[s, e)` is acked. */
  allAcked(s: number, e: number): boolean {
    return e <= this.head || this.acked.endOf(Math.max(s, this.head)) >= e;
  }

  /** The end of every number the state speaks of: the floor, and what is acked, held or was tried. */
  knownEnd(): number {
    return Math.max(this.floor, this.head, this.acked.last()?.e ?? 0, this.attempts.last()?.e ?? 0, this.holds.end());
  }

  attemptsOf(seq: number): number {
    return this.attempts.get(seq) ?? 0;
  }

  apply(op: Op): void {
    switch (op[0]) {
      case 't': {
        const ranges = unflat(op[4]);
        this.holds.add({ lease: op[1], owner: op[2], until: op[3], ranges });
        if (op[5] !== 0) for (const [s, e] of ranges) this.attempts.update(s, e, (n = 0) => n + 1);
        return;
      }
      case 'u': {
        const ranges = unflat(op[1]);
        if (op[2] == null) this.holds.remove(ranges);
        else this.holds.add({ lease: '', owner: '', until: op[2], ranges });
        if (op[3] === 1) for (const [s, e] of ranges) this.attempts.update(s, e, (n) => (n !== undefined && n > 1 ? n - 1 : undefined));
        return;
      }
      case 'a':
        return this.#ack(unflat(op[1]));
      case 'o':
        return this.holds.dropOwner(op[1]);
      case 'n':
        this.floor = Math.max(this.floor, op[1]);
        if (op[2] !== undefined && op[3] !== undefined) this.grown = { next: op[1], segment: op[2], end: op[3] };
        return;
      case 'k':
        this.partitions = op[1];
        return;
      case 'c': {
        const [, from, to] = op;
        this.acked.delete(from, Infinity);
        this.attempts.delete(from, Infinity);
        this.holds.remove([[from, Infinity]]);
        this.floor = Math.max(this.floor, to);
        return this.#ack([[from, to]]);
      }
      default:
        // Skipped, it would be an ack, a lease or a cut this version does not know of, and items would come again.
        throw new SluiceError('ERR_INCOMPATIBLE_STORE', `The queue's metadata holds a record of a kind this version of sluice does not know (${JSON.stringify((op as unknown[])[0])}): a newer version wrote it; upgrade sluice.`);
    }
  }

  #ack(ranges: readonly Range[]): void {
    for (const [s, e] of ranges) {
      const from = Math.max(s, this.head);
      if (from < e) this.acked.set(from, e, true);
      this.attempts.delete(s, e);
    }
    this.holds.remove(ranges);
    // The head moves past what is acked right above it.
    const first = this.acked.first();
    if (first && first.s <= this.head) {
      this.head = first.e;
      this.acked.delete(first.s, first.e);
    }
  }
}
