import { STALE, type CommitView } from './commit-view.js';
import type { Hold } from './holds.js';
import type { StoredItem } from './segments.js';

/** An unacked item, with the hold over it (if one holds it now). */
export interface Walked {
  readonly item: StoredItem;
  readonly held: Hold | undefined;
}

/**
 * Unacked items in order from the head, read a segment at a time. Runs of acked items, and of held ones when
 * `skipHeld`, are jumped over whole, so leases and acks outstanding cost a lookup each, not a step per item. Unacked
 * numbers that no segment holds any more (damaged, cut or deleted under the queue) go to `lost`, which decides
 * whether the walk may go on past them.
 */
export async function* walk(
  view: CommitView,
  now: number,
  skipHeld: boolean,
  lost: (segment: number, from: number, to: number) => Promise<void>,
  from = 0,
): AsyncGenerator<Walked> {
  const { state, segments } = view;
  const next = view.next;
  for (let seq = Math.max(from, state.head); ; ) {
    for (let at = -1; at !== seq; ) {
      at = seq;
      seq = state.acked.endOf(seq);
      if (skipHeld) seq = state.holds.skip(seq);
    }
    if (seq >= next) return;
    const index = segments.indexOf(seq);
    const list = segments.list;
    if (index < 0) {
      // Below the first segment: a segment that held these is gone.
      await lost(seq, seq, list[0]?.id ?? next);
      seq = list[0]?.id ?? next;
      continue;
    }
    const info = list[index]!;
    const { items, vanished } = await segments.items(index);
    if (vanished) throw STALE;
    const k = seq - info.id;
    if (k < items.length) {
      const item = items[k]!;
      yield { item, held: state.holds.at(seq, now) };
      seq++;
      continue;
    }
    // Past the last readable item of a segment, and short of the next one: those items cannot be read.
    const end = list[index + 1]?.id ?? next;
    await lost(info.id, seq, end);
    seq = end;
  }
}

/** The unacked item `seq`, or undefined when it is acked, not pushed yet, or cannot be read. */
export async function itemAt(view: CommitView, seq: number): Promise<StoredItem | undefined> {
  if (seq >= view.next || view.state.isAcked(seq)) return undefined;
  const index = view.segments.indexOf(seq);
  if (index < 0) return undefined;
  const { items, vanished } = await view.segments.items(index);
  if (vanished) throw STALE;
  return items[seq - view.segments.list[index]!.id];
}
