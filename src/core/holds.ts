import { Heap } from './heap.js';
import { Intervals } from './intervals.js';
import type { Range } from './ranges.js';

/**
 * Items handed out or held back: a lease (taken by `owner` until `until`) or, with `lease` and `owner` empty, a
 * delay (items released with `delayMs`, unavailable until `until`). A hold whose `until` has passed holds nothing.
 */
export interface Hold {
  readonly lease: string;
  readonly owner: string;
  readonly until: number;
  /** Where the hold was put; some of its items may have left it since (acked, released, taken again). */
  readonly ranges: readonly Range[];
  /** How many items it still holds. */
  size: number;
}

/**
 * The lease index: which hold each held item is under, found by binary search; leases by id, holds by owner, and
 * a heap of holds by expiry. Every change costs a few splices and heap steps, so a take or an ack costs about the
 * same with 10 or 10 000 leases outstanding.
 */
export class Holds {
  readonly #bySeq = new Intervals<Hold>();
  /** Every held item, merged into runs whatever its hold: a walk jumps over all of a run at once. */
  readonly #covered = new Intervals<true>();
  readonly #leases = new Map<string, Hold>();
  readonly #owners = new Map<string, Set<Hold>>();
  /** Holds by `until`, earliest first; holds emptied meanwhile are skipped when they come up. */
  readonly #expiry = new Heap<Hold>((a, b) => a.until - b.until);
  /** Every hold that holds something. */
  readonly #live = new Set<Hold>();

  /** The hold over `seq`, as long as it holds at `now`. */
  at(seq: number, now: number): Hold | undefined {
    const hold = this.#bySeq.get(seq);
    return hold && hold.until > now ? hold : undefined;
  }

  /** The first number at or after `seq` that no hold covers (call `expire` first, so expired holds are gone). */
  skip(seq: number): number {
    return this.#covered.endOf(seq);
  }

  /** The end of the last held run (0 when nothing is held). */
  end(): number {
    return this.#covered.last()?.e ?? 0;
  }

  /** How many items of `[s, e)` are held (expired holds included, until `expire` ends them). */
  count(s: number, e: number): number {
    return this.#covered.count(s, e);
  }

  lease(id: string): Hold | undefined {
    return this.#leases.get(id);
  }

  /** Owners with holds (leases only: delays have none). */
  owners(): IterableIterator<string> {
    return this.#owners.keys();
  }

  /** Every hold that holds something. */
  all(): IterableIterator<Hold> {
    return this.#live.values();
  }

  /** The runs `hold` still holds. */
  pieces(hold: Hold): readonly Range[] {
    // Items only ever leave a hold: while it holds as many as it was put with, it holds its ranges whole. A checkpoint
    // asks this of every hold, so most holds must not cost a lookup.
    let put = 0;
    for (const [s, e] of hold.ranges) put += e - s;
    if (hold.size === put) return hold.ranges;
    return hold.ranges.flatMap(([s, e]) => this.#bySeq.runs(s, e).filter((run) => run.v === hold).map((run): Range => [run.s, run.e]));
  }

  /** Puts `ranges` under a new hold, taking them from whatever held them. */
  add(hold: Omit<Hold, 'size'>): Hold {
    const added: Hold = { ...hold, size: 0 };
    this.remove(added.ranges);
    for (const [s, e] of added.ranges) {
      this.#bySeq.set(s, e, added);
      this.#covered.set(s, e, true);
      added.size += e - s;
    }
    if (added.size === 0) return added;
    if (added.lease) this.#leases.set(added.lease, added);
    if (added.owner) {
      let set = this.#owners.get(added.owner);
      if (!set) this.#owners.set(added.owner, (set = new Set()));
      set.add(added);
    }
    this.#live.add(added);
    this.#expiry.push(added);
    return added;
  }

  /** Takes `ranges` out of every hold. */
  remove(ranges: readonly Range[]): void {
    for (const [s, e] of ranges) {
      // Most ranges an ack names are held by nothing any more (their lease was acked whole): nothing to cut.
      if (!this.#covered.overlaps(s, e)) continue;
      for (const run of this.#bySeq.runs(s, e)) this.#shrink(run.v, run.e - run.s);
      this.#bySeq.delete(s, e);
      this.#covered.delete(s, e);
    }
  }

  /** Ends `hold` whole: its items are available again. */
  drop(hold: Hold): void {
    this.remove(this.pieces(hold));
  }

  dropOwner(owner: string): void {
    for (const hold of [...(this.#owners.get(owner) ?? [])]) this.drop(hold);
  }

  /** Ends every hold whose time is up at `now`. */
  expire(now: number): void {
    for (let top = this.#expiry.peek(); top && top.until <= now; top = this.#expiry.peek()) {
      this.#expiry.pop();
      if (top.size > 0) this.drop(top);
    }
  }

  /** When the earliest hold ends, or Infinity. */
  nextEnd(): number {
    while (this.#expiry.peek()?.size === 0) this.#expiry.pop();
    return this.#expiry.peek()?.until ?? Infinity;
  }

  #shrink(hold: Hold, by: number): void {
    hold.size -= by;
    if (hold.size > 0) return;
    this.#live.delete(hold);
    if (this.#leases.get(hold.lease) === hold) this.#leases.delete(hold.lease);
    const set = this.#owners.get(hold.owner);
    set?.delete(hold);
    if (set?.size === 0) this.#owners.delete(hold.owner);
    // Emptied holds wait in the heap until their time comes; when they outnumber the live ones, sweep them out.
    if (this.#expiry.size > 64 && this.#expiry.size > 4 * this.#live.size) this.#expiry.filter((h) => h.size > 0);
  }
}
