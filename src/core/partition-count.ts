import { counted, SluiceError } from './errors.js';
import type { Partition } from './partition.js';
import { sizeOf } from './partitioned.js';
import type { Serial } from './serial.js';

/** What settling the partition count needs of the queue being opened. */
export interface CountContext<T> {
  /** The queue's name, for messages. */
  readonly name: string;
  /** The partitions opened so far, by number; the first is open before `settleCount` is called. */
  readonly parts: Partition<T>[];
  /** Opens partition `p` into `parts`. */
  readonly open: (p: number) => Promise<Partition<T>>;
  /** True when partition `p`'s storage was ever made; undefined when the store cannot tell (see `Store.exists`). */
  readonly exists: (p: number) => Promise<boolean | undefined>;
  readonly serial: Serial;
}

/**
 * Makes the queue's partition count `wanted`, and every one of its partitions record it, or refuses the open: the
 * count the queue was made with is kept while the queue holds items (see `change`). Every partition records the
 * count, so that a handle opened with another count learns of a change at its next commit to any of them (see
 * `Partition`), and so that the count survives the loss of the first partition's metadata. Partitions past `wanted`
 * that were opened to look at them are closed again.
 */
export async function settleCount<T>(c: CountContext<T>, wanted: number): Promise<void> {
  const made = await madeWith(c, wanted);
  if (made !== wanted) await change(c, made, wanted);
  for (let p = 1; p < wanted; p++) if (!c.parts[p]) await c.open(p);
  const parts = c.parts.slice(0, wanted);
  const stale = parts.filter((part) => recordedIn(part) === 0 || (recordedIn(part) ?? 1) !== wanted);
  // Another count than the first's is a queue made before every partition recorded it (they say 1), a change that
  // was cut short, or one still running in another handle (see `change`): this commit to the first partition, made
  // even where it records `wanted` already, makes that change refuse rather than end with a partition marked back
  // here, and refuses this open if the change ended first. Nothing recorded, or a record lost (0), is no change's mark.
  const [base] = parts as [Partition<T>];
  const was = recordedIn(base);
  if (stale.some((part) => part !== base && (recordedIn(part) ?? 0) > 0)) await record(c, base, (now) => (now === wanted || now === was ? wanted : moved(c.name)));
  for (const part of stale) await mark(c, part, wanted);
  await Promise.all(c.parts.splice(wanted).map((part) => part.close()));
}

/** What `part` records: undefined when nothing was ever recorded, 0 when the record was lost with its metadata. */
function recordedIn(part: Partition<unknown>): number | undefined {
  return part.view.state.partitions;
}

/**
 * The count the queue was made with: as its first partition records it, or, when that record is lost (the metadata
 * deleted or unreadable; its 'recover' event says so) or none was ever made there, as the second partition records
 * it. The second is opened to look only when it would be opened anyway (though not when the store says it does not
 * exist and the first never recorded a count), or when it exists (where the store cannot tell, only when the first
 * lost its record): opening it makes storage, which a queue of one partition should not get. Where neither tells, a
 * first partition that never recorded a count says 1, and one whose record was lost leaves the count asked for as all
 * there is to go by.
 */
async function madeWith<T>(c: CountContext<T>, wanted: number): Promise<number> {
  const first = recordedIn(c.parts[0]!);
  if (first !== undefined && first > 0) return first;
  // Nothing recorded is what a queue of one partition always was: only a second partition that exists says more. So
  // is a record lost where there is no second partition: every open with more than one makes it.
  if (wanted === 1) {
    const there = await c.exists(1);
    if (there === false || (first === undefined && there === undefined)) return 1;
  } else if ((await c.exists(1)) === false) return 1;
  const second = c.parts[1] ?? (await c.open(1));
  const recorded = recordedIn(second);
  // Inside a queue of that count (past the first, a partition of a queue made before every one recorded it says 1).
  if (recorded !== undefined && recorded > 1) return recorded;
  // A first partition that never recorded a count is a queue of one partition (or a new, empty one): going by
  // `wanted` would skip `change`, and the items it holds would stay where their keys' newer items no longer go.
  // `change` refuses it while it holds items, and records the count in the same commit that finds it empty. So is
  // one whose record was lost beside a second that holds nothing and says 1 (left by a change to 1) or nothing (made
  // just now to look, where the store cannot tell what exists); not one that lost its record too.
  return first === undefined || (second.view.size === 0 && recorded !== 0) ? 1 : wanted;
}

/**
 * Changes the count from `made` to `wanted`, which is only allowed while the queue is empty. Handles still open with
 * `made` push without reading the count first: a push learns of it only when its commit (a compare-and-write) finds
 * that another handle committed to that partition since. So the order of the steps is what makes it safe:
 * 1. Every old partition but the first records `wanted`. From that commit on, a push there by an old handle is
 *    refused; one committed before it is counted in step 2.
 * 2. They are counted, each on a view read after step 1, and each must still record `wanted` (an open with `made`
 *    may have marked it back meanwhile).
 * 3. The first partition records `wanted` last, in a commit that also checks that it holds nothing and still records
 *    what it did: its record is the queue's count, which every open reads, so no handle opens with `wanted` before
 *    the change is known to be safe, and a push to it by an old handle is either counted there or refused after.
 * A queue found holding items gets its old count back in the partitions marked (the first never changed), and the
 * open is refused: the old handles go on as before.
 */
async function change<T>(c: CountContext<T>, made: number, wanted: number): Promise<void> {
  for (let p = 1; p < made; p++) if (!c.parts[p]) await c.open(p);
  const old = c.parts.slice(0, made);
  const [base, ...rest] = old as [Partition<T>, ...Partition<T>[]];
  // What the count was settled on: a record changed from here to another count than `wanted` is another handle's
  // change, under way or done (read after it, this one would mark over its marks, and leave the partitions past
  // `made` recording its count). One changed to `wanted` is another open's with this count: it is let be.
  const seen = old.map(recordedIn);
  // Counted first, too: a queue that holds items is refused before any mark could refuse its handles' pushes.
  let held = await sizeOf(old);
  if (held > 0) throw refusal(c.name, made, held);
  if (old.some((part, p) => recordedIn(part) !== seen[p] && recordedIn(part) !== wanted)) moved(c.name);
  // The first partition's view is current (its size was just read): from here, a load means another handle committed.
  const was = seen[0];
  const loads = base.view.loads;
  try {
    for (const part of rest) await mark(c, part, wanted);
    held = await sizeOf(rest);
    if (rest.some((part) => recordedIn(part) !== wanted)) moved(c.name);
    if (held > 0) held += await base.size();
    else {
      await record(c, base, (now) => {
        // Another open with the same count got there first: it found the queue empty.
        if (now === wanted) return undefined;
        if (now !== was) moved(c.name);
        held = base.view.size;
        if (held > 0) return undefined;
        return base.view.loads === loads ? wanted : moved(c.name);
      });
    }
  } catch (error) {
    await restore(c, rest, made, wanted);
    throw error;
  }
  if (held === 0) return;
  await restore(c, rest, made, wanted);
  throw refusal(c.name, made, held);
}

function refusal(name: string, made: number, held: number): SluiceError {
  return new SluiceError(
    'ERR_INVALID_OPTION',
    `Queue "${name}" was made with partitions: ${made} and holds ${counted(held, 'item')}: open it with partitions: ${made}, or drain it first.`,
  );
}

/** The partitions a refused change marked record `made` again, where they still say `wanted`. */
async function restore<T>(c: CountContext<T>, marked: readonly Partition<T>[], made: number, wanted: number): Promise<void> {
  for (const part of marked) await record(c, part, (now) => (now === wanted ? made : undefined));
}

/**
 * Commits to `part` the count `to` gives of what `part` records as the commit is made (nothing: no commit). `to` runs
 * in the commit's plan, on the view the compare-and-write is made against: what it checks there holds when the count
 * is recorded. A record other than expected means another handle is changing the count at the same time: `to` throws
 * (`moved`), and the open is refused rather than undo the other's work.
 */
function record<T>(c: CountContext<T>, part: Partition<T>, to: (now: number | undefined) => number | undefined): Promise<void> {
  const { view } = part;
  return c.serial(() =>
    view.commit(() => {
      const count = to(view.state.partitions);
      return count === undefined ? { result: undefined } : { ops: [['k', count]], result: undefined };
    }),
  );
}

/** `part` records `count`, unless another handle made it record something else than it did when this was called. */
function mark<T>(c: CountContext<T>, part: Partition<T>, count: number): Promise<void> {
  const seen = recordedIn(part);
  return record(c, part, (now) => (now === count ? undefined : now === seen ? count : moved(c.name)));
}

function moved(name: string): never {
  throw new SluiceError(
    'ERR_INVALID_OPTION',
    `The partition count of queue "${name}" could not be settled: another handle opened it with another count, or used it, meanwhile. Open it again.`,
  );
}

/** The errors of `checkCount` that the Queue answers by settling the count again (see `Queue.#push`). */
export const RECOUNT = new WeakSet<object>();

/**
 * Refuses a push or take of a handle opened with `mine` partitions where the partition records `recorded`: another
 * count (another handle changed it: its items go elsewhere now, or is changing it: see `change`). Nothing recorded, or
 * a record lost (0), refuses a take nothing, but a push of a partitioned handle: every open of a partitioned queue
 * records its count in each partition, so none there is its storage lost under this handle (deleted, a Redis restarted
 * empty), and an open with another count, finding none either, would be let in while this push sat where it no longer
 * looks. A refusal `forgets` the view it was made on: the next call reads the store again, so that a change another
 * handle tried and took back (its marks undone) does not refuse this handle for good.
 */
export function checkCount(recorded: number | undefined, mine: number, queue: string, pushing: boolean, forget: () => void): void {
  if (recorded === mine || ((recorded === undefined || recorded === 0) && (!pushing || mine === 1))) return;
  forget();
  if (!recorded) {
    const error = new SluiceError('ERR_STORAGE', `A partition of queue "${queue}" no longer records the queue's partition count: its storage was deleted or lost under this handle.`);
    RECOUNT.add(error);
    throw error;
  }
  throw new SluiceError(
    'ERR_INVALID_OPTION',
    `Queue "${queue}" records partitions: ${recorded} now, not the ${mine} this handle was opened with: another handle opened it ` +
      `with that count, or is trying to (a change it takes back where the queue holds items, and this handle goes on). Once ` +
      `the change is made, this handle can no longer push or take: close it and open the queue again with partitions: ${recorded}.`,
  );
}
