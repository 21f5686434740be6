import type { CommitView } from './commit-view.js';
import { concat } from './encode.js';
import { SluiceError } from './errors.js';
import { PARTITION_SPAN } from './ids.js';

/** A push waiting for the next group commit. A `pushMany` is one: all its items commit together. */
export interface PendingPush {
  readonly frames: Uint8Array;
  readonly count: number;
  /** What the push resolves to, made of the sequence number of its first item. */
  readonly done: (first: number) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The tail segment as the queue sees it: where its last complete unit ends and how many items it holds. */
interface Tail {
  readonly id: number;
  readonly end: number;
  readonly count: number;
}

interface Limits {
  /** The queue's, for messages. */
  readonly name: string;
  readonly segmentItems: number;
  readonly segmentBytes: number;
}

/**
 * The group commit: pushes started in one tick wait a microtask and are committed together, as many as fit the
 * tail segment per commit; pushes started while a commit runs go in the next. 1 000 concurrent pushes cost a few
 * storage commits, not 1 000.
 */
export class GroupCommit {
  readonly #view: CommitView;
  readonly #limits: Limits;
  readonly #serial: (fn: () => Promise<void>) => Promise<void>;
  readonly #pushed: (count: number) => void;
  readonly #check: () => void;
  #pending: PendingPush[] = [];
  #queued = false;

  /**
   * `check` runs in every commit's plan, on the view that commit is made against, and throws to refuse the pushes
   * waiting: what it reads of the state is then as current as the commit (a commit on a stale view fails and plans
   * again after a reload), at no read of its own.
   */
  constructor(
    view: CommitView,
    limits: Limits,
    serial: (fn: () => Promise<void>) => Promise<void>,
    pushed: (count: number) => void,
    check: () => void = () => {},
  ) {
    this.#view = view;
    this.#limits = limits;
    this.#serial = serial;
    this.#pushed = pushed;
    this.#check = check;
  }

  /** Resolves with `done` of the first item's sequence number once `frames` (a unit of `count` items) are committed. */
  add<R>(frames: Uint8Array, count: number, done: (first: number) => R): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ frames, count, done, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queued) return;
      this.#queued = true;
      // A microtask later, every push started in this tick is waiting: they commit together.
      queueMicrotask(() => void this.#serial(() => this.flush()));
    });
  }

  /** Commits every waiting push, in order, a segment at a time; a failed commit rejects every push waiting. */
  async flush(): Promise<void> {
    this.#queued = false;
    while (this.#pending.length > 0) {
      let units: PendingPush[] = [];
      let first = 0;
      let count = 0;
      let full: SluiceError | undefined;
      try {
        await this.#view.commit(() => {
          this.#check();
          first = this.#view.next;
          const { segments } = this.#view;
          let planned = planAppend(this.#pending, segments.tail, first, this.#limits);
          // A partition's sequence numbers stay below 2^40, else its entry ids would run into the next partition's
          // (see `entryId`). Near there pushes commit one at a time, and one that would pass it is refused alone.
          if (first + planned.count > PARTITION_SPAN) {
            const [push] = this.#pending as [PendingPush];
            planned = planAppend([push], segments.tail, first, this.#limits);
            if (first + push.count > PARTITION_SPAN) {
              throw (full = new SluiceError(
                'ERR_QUOTA_EXCEEDED',
                `Queue "${this.#limits.name}" has no entry ids left for ${push.count === 1 ? 'an item' : `${push.count} items`}: a partition numbers ` +
                  `at most 2^40 items, and this one is at ${first}, so their ids would run into the next partition's. Nothing was stored; ` +
                  `move the items to a queue of another name.`,
              ));
            }
          }
          ({ units, count } = planned);
          return { batch: { write: planned.write }, result: undefined };
        });
      } catch (error) {
        if (error === full) {
          this.#pending.shift()!.reject(error);
          continue;
        }
        for (const unit of this.#pending.splice(0)) unit.reject(error);
        return;
      }
      this.#pending.splice(0, units.length);
      for (const unit of units) {
        unit.resolve(unit.done(first));
        first += unit.count;
      }
      this.#pushed(count);
    }
  }
}

/**
 * Which of the waiting pushes go into the next commit, and where: as many as fit in the tail segment, else in a
 * new segment starting at `next`. A unit never spans segments, so one commit is one write to one segment; a unit
 * larger than a whole segment gets a segment of its own.
 */
export function planAppend(
  pending: readonly PendingPush[],
  tail: Tail | undefined,
  next: number,
  limits: Limits,
): { units: PendingPush[]; count: number; write: { segment: number; offset: number; bytes: Uint8Array } } {
  const fitting = (items: number, bytes: number): PendingPush[] => {
    const out: PendingPush[] = [];
    for (const unit of pending) {
      if (items + unit.count > limits.segmentItems || bytes + unit.frames.length > limits.segmentBytes) break;
      items += unit.count;
      bytes += unit.frames.length;
      out.push(unit);
    }
    return out;
  };
  let units: PendingPush[] = [];
  let segment = next;
  let offset = 0;
  if (tail && tail.id + tail.count === next && tail.count < limits.segmentItems && tail.end < limits.segmentBytes) {
    units = fitting(tail.count, tail.end);
    if (units.length > 0) {
      segment = tail.id;
      offset = tail.end;
    }
  }
  if (units.length === 0) units = fitting(0, 0);
  if (units.length === 0) units = pending.slice(0, 1);
  const bytes = units.length === 1 ? units[0]!.frames : concat(units.map((u) => u.frames));
  return { units, count: units.reduce((sum, u) => sum + u.count, 0), write: { segment, offset, bytes } };
}
