import { STALE, type CommitView, type Plan } from './commit-view.js';
import { SluiceError } from './errors.js';
import type { CorruptDetail, RecoverDetail } from './events.js';
import { FRAME_HEADER } from './frame.js';
import { entryId } from './ids.js';
import type { Op } from './queue-state.js';
import type { QueueStorage } from './store.js';
import { floorAt } from './segments.js';

/**
 * The commit that puts storage right after a reload found it wrong, or undefined when nothing is: a torn or
 * damaged tail is cut back to its last complete unit; numbers the queue had given out past what its segments still
 * hold (cut off, or in a segment gone under the queue) are made void, so no number is ever given to a second item
 * and a stale ack can never remove a new one; metadata that was unreadable or missing is written again whole. Items
 * lost on the way are reported ('corrupt', or ERR_CORRUPT with corruption 'throw'); each repair is reported
 * ('recover') once it is stored.
 */
export function repairPlan(
  view: CommitView,
  name: string,
  corruption: 'throw' | 'skip',
  report: (detail: RecoverDetail) => void,
  tell: (detail: CorruptDetail) => void,
  partition = 0,
  relist?: () => boolean,
): Plan<undefined> | undefined {
  const { damage, trouble, missing, state, gone } = view;
  const next = view.next;
  // Torn bytes may have held as many items as they hold frame headers: never pushed, but their numbers are void.
  const cut = damage ? upTo(view, damage.segment, damage.offset + damage.bytes, next, Math.floor(damage.bytes / FRAME_HEADER)) : 0;
  // Numbers given out past what the segments hold: their items were stored, and are lost.
  const given = Math.max(state.knownEnd(), view.highWater, missing ? storedEnd(view, missing, next) : 0);
  const known = Math.max(given, cut);
  if (!damage && !trouble && known <= next && !gone) return floorPlan(view, next, report, name);
  if (damage?.corrupt && corruption === 'throw') {
    throw new SluiceError(
      'ERR_CORRUPT',
      `Segment ${damage.segment} of ${queueText(name, partition)} fails its checksum at byte ${damage.offset}, and valid data follows, so it is not a torn write. ` +
        `Open the queue with corruption: 'skip' to cut the segment there (losing ${damage.bytes} bytes), or inspect the store first.`,
    );
  }
  const reports: RecoverDetail[] = [];
  let lostIds: string[] = [];
  let told: (() => void) | undefined;
  if (damage) reports.push({ queue: name, kind: 'tail', segment: damage.segment, offset: damage.offset, bytes: damage.bytes, corrupt: damage.corrupt });
  if (given > next || gone) {
    // Items the metadata holds in no listed segment: the list may be what was lost (Redis evicts its key alone), the
    // segments still there. Looked for first (see `relister`), on a load that lists what it finds.
    if (!gone && !damage && relist?.()) throw STALE;
    // Deleted under the queue: what this view knew unacked is gone, ids now held by new items too (the state read
    // since knows nothing of the old acks). Otherwise, with no torn bytes to explain it, items were removed under it.
    if (gone) lostIds = [...gone];
    else for (let seq = next; seq < given; seq = state.acked.endOf(seq + 1)) if (!state.isAcked(seq)) lostIds.push(String(seq));
    // Cut at damage that valid data followed: the items are lost to a checksum that failed there, not to storage gone.
    const where = damage?.corrupt && !gone ? { segment: damage.segment, offset: damage.offset, reason: 'checksum' as const } : undefined;
    const lost: CorruptDetail = { queue: name, segment: view.segments.list[view.segments.list.length - 1]?.id ?? next, offset: 0, lost: lostIds, action: corruption, reason: 'missing', ...where };
    // With 'skip', told once the repair is stored: a repair that loses a race to another handle's commit is planned
    // again on what that commit did, and ids another handle has given to new items since are no longer this loss.
    if (lostIds.length > 0 && corruption === 'skip') told = () => tell(lost);
    if (lostIds.length > 0 && corruption === 'throw') {
      tell(lost);
      throw new SluiceError(
        'ERR_CORRUPT',
        `${lostIds.length} unacked items of ${queueText(name, partition)} (ids ${idText(partition, lostIds[0]!)} to ${idText(partition, lostIds[lostIds.length - 1]!)}) are in no segment: ` +
          `${gone ? "the queue's storage was deleted under it (and perhaps made again)" : 'storage under the queue was removed or cut'}. ` +
          `Open the queue with corruption: 'skip' to count them as lost and go on.`,
      );
    }
  }
  if (trouble) {
    // Everything the segments hold may be handed out again: the state that said it was acked is gone or in doubt.
    const from = view.segments.list[0]?.id ?? state.head;
    reports.push({ queue: name, kind: trouble === 'unreadable' ? 'meta' : trouble === 'missing' ? 'meta-missing' : 'meta-damaged', again: [String(from), String(next)] });
  }
  if (known > next) reports.push({ queue: name, kind: 'rollback', from: String(next), to: String(known) });
  const ops: Op[] = known > next ? [['c', next, known]] : [];
  return {
    ops,
    whole: trouble !== undefined,
    ...(damage && { batch: { write: { segment: damage.segment, offset: damage.offset, bytes: new Uint8Array(0) } } }),
    result: undefined,
    done: () => {
      view.damage = undefined;
      view.trouble = undefined;
      view.missing = undefined;
      view.gone = undefined;
      told?.();
      if (known > next) voided.add(view);
      for (const detail of reports) report(detail);
    },
  };
}

/**
 * The commit that keeps the queue's floor where numbers past its segments were made void (a cut tail, segments gone
 * under it): an empty segment at `next`, as a drained queue keeps (see `Segments.floorAfter`), taking the place of a
 * newest segment the cut left empty. Metadata lost later is rebuilt from the segments, which would otherwise give
 * the void numbers out again: to second items, which a stale `remove` of the first would take.
 */
function floorPlan(view: CommitView, next: number, report: (detail: RecoverDetail) => void, name: string): Plan<undefined> | undefined {
  // First, as every plan asks: a repair that made numbers void always leaves the floor short, so the next plan takes
  // its mark off.
  if (view.segments.end >= next) return undefined;
  // Part of a repair just stored, which said what it made void; else something under the queue took the floor.
  const told = voided.delete(view);
  const tail = view.segments.tail;
  const remove = tail?.length === 0 ? [tail.id] : [];
  const done = told ? undefined : () => report({ queue: name, kind: 'floor', segment: next });
  return { batch: { write: floorAt(next), remove }, result: undefined, ...(done && { done }) };
}

/** Views whose last repair made numbers void, until the floor past them is written (see `floorPlan`). */
const voided = new WeakSet<CommitView>();

/**
 * Where the items of a finished commit's bytes that are gone or unreadable (`missing`) end, at most: each byte may have
 * begun an item, as many as the bytes hold frame headers. A record of where the segment ended when the queue had
 * grown to some number (`QueueState.grown`) leaves only the bytes past that for items it does not count: a tail
 * removed after a close (which records it) is counted exactly.
 */
function storedEnd(view: CommitView, missing: NonNullable<CommitView['missing']>, next: number): number {
  const end = (view.segments.list.find((s) => s.id === missing.segment)?.length ?? 0) + missing.bytes;
  return upTo(view, missing.segment, end, Math.max(next, missing.segment), Math.ceil(missing.bytes / FRAME_HEADER));
}

/**
 * Where the numbers of items that bytes of `segment` up to `end` may have held end, at most: `from` plus `count` (one
 * per frame header the bytes hold), or, where the record of growth (`QueueState.grown`) was made in that segment by
 * then, what it counts plus one per frame header of the bytes past it.
 */
function upTo(view: CommitView, segment: number, end: number, from: number, count: number): number {
  const { grown } = view.state;
  if (grown?.segment !== segment || grown.end > end) return from + count;
  return Math.max(view.next, Math.min(from + count, grown.next + Math.ceil((end - grown.end) / FRAME_HEADER)));
}

/**
 * Unacked items `[from, to)` that `segment` should hold cannot be read: the segment failed its checksum there, or
 * it (or a part of it) is gone. A 'corrupt' event names them; then, with corruption 'throw', 'ERR_CORRUPT'; with
 * 'skip', they are counted as acked (lost, and said so) and the walk starts again on the new state (STALE).
 */
export async function lost(
  view: CommitView,
  where: { readonly queue: string; readonly partition: number; readonly segment: number; readonly from: number; readonly to: number; readonly corruption: 'throw' | 'skip' },
  c: { readonly tell: (detail: CorruptDetail) => void; readonly relist?: () => boolean; readonly ack: (seqs: number[]) => Plan<undefined> },
): Promise<void> {
  const { state } = view;
  const { queue, partition, segment, from, to, corruption } = where;
  const seqs: number[] = [];
  for (let seq = from; seq < to; seq = state.acked.endOf(seq + 1)) if (!state.isAcked(seq)) seqs.push(seq);
  if (seqs.length === 0) return;
  const damage = view.segments.damageOf(segment, from);
  const reason = damage === undefined ? 'missing' : 'checksum';
  // As a repair does (see `repairPlan`): the list may be what was lost, the segment still there.
  if (reason === 'missing' && c.relist?.()) throw STALE;
  c.tell({ queue, segment, offset: damage ?? 0, lost: seqs.map(String), action: corruption, reason });
  if (corruption === 'throw') {
    const [first, last] = [idText(partition, seqs[0]!), idText(partition, seqs[seqs.length - 1]!)];
    const what =
      reason === 'checksum'
        ? `Segment ${segment} of ${queueText(queue, partition)} fails its checksum at byte ${damage}: ${seqs.length === 1 ? `unacked item ${first}` : `${seqs.length} unacked items (ids ${first} to ${last})`} there cannot be read.`
        : `${seqs.length} unacked items of ${queueText(queue, partition)} (ids ${first} to ${last}) are in no segment: storage under the queue was removed or cut.`;
    throw new SluiceError('ERR_CORRUPT', `${what} Open the queue with corruption: 'skip' to deliver the rest and count those as lost.`);
  }
  await view.commit(() => c.ack(seqs));
  throw STALE;
}

/**
 * The `relist` of `repairPlan` and `lost`: asks the storage to list its segments again (see `QueueStorage.relist`)
 * and says so, but not on the load that follows the last time: a loss still there then is told.
 */
export function relister(storage: QueueStorage, loads: () => number): () => boolean {
  let last = -2;
  return () => {
    if (!storage.relist || loads() <= last + 1) return false;
    last = loads();
    storage.relist();
    return true;
  };
}

/** The queue, for messages: with the partition where it is not the first, whose storage and segment numbers they are. */
function queueText(name: string, partition: number): string {
  return partition === 0 ? `queue "${name}"` : `queue "${name}" (partition ${partition})`;
}

/** Item `seq` of `partition` by the id its entry has (and `ack`, `remove` and `list({ ids })` take). */
function idText(partition: number, seq: number | string): string {
  return entryId(partition, Number(seq));
}
