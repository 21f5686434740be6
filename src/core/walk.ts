import { STALE, type CommitView } from './commit-view.js';
import type { Hold } from './holds.js';
import type { QueueState } from './queue-state.js';
import type { StoredItem } from './segments.js';

/** An unacked item, with the hold over it (if one holds it now). */
export interface Walked {
  readonly item: StoredItem;
  readonly held: Hold | undefined;
}

/**
 * Unacked items in order from the head, read a segment at a time: each step yields the items of one segment, as a
 * plain iterator, so that a take of a hundred items awaits once per segment rather than once per item. Runs of acked
 * items, and of held ones when `skipHeld`, are jumped over whole, so leases and acks outstanding cost a lookup each,
 * not a step per item. Unacked numbers that no segment holds any more (damaged, cut or deleted under the queue) go
 * to `lost`, which decides whether the walk may go on past them.
 *
 *     for await (const items of walk(...)) for (const { item, held } of items) ...
 */
export async function* walk(
  view: CommitView,
  now: number,
  skipHeld: boolean,
  lost: (segment: number, from: number, to: number) => Promise<void>,
  from = 0,
): AsyncGenerator<Iterable<Walked>> {
  const { state, segments } = view;
  const next = view.next;
  // Where the walk goes on: the segment's iterator moves it past each item it yields.
  const at = { seq: Math.max(from, state.head) };
  for (;;) {
    const seq = skip(state, skipHeld, at.seq);
    if (seq >= next) return;
    const index = segments.indexOf(seq);
    const list = segments.list;
    if (index < 0) {
      // Below the first segment: a segment that held these is gone.
      await lost(seq, seq, list[0]?.id ?? next);
      at.seq = list[0]?.id ?? next;
      continue;
    }
    const info = list[index]!;
    const { items, vanished } = await segments.items(index);
    if (vanished) throw STALE;
    // A segment holds numbers up to the next one's first, whatever frames it holds past them (damage, a copy).
    const end = Math.min(list[index + 1]?.id ?? next, next);
    if (seq - info.id < items.length) {
      at.seq = seq;
      // A frame that failed its checksum in its place (see `scanFrames`): that one item cannot be read.
      if (items[seq - info.id]) {
        yield inSegment(state, items, info.id, end, now, skipHeld, at);
      } else {
        await lost(info.id, seq, seq + 1);
        at.seq = seq + 1;
      }
      continue;
    }
    // Past the last readable item of a segment, and short of the next one: those items cannot be read.
    await lost(info.id, seq, end);
    at.seq = end;
  }
}

/** The walk's items within one segment (`items`, the first numbered `first`), from `at.seq` on, up to a hole. */
function* inSegment(
  state: QueueState,
  items: readonly (StoredItem | undefined)[],
  first: number,
  next: number,
  now: number,
  skipHeld: boolean,
  at: { seq: number },
): Generator<Walked> {
  for (let seq = at.seq, item; seq < next && (item = items[seq - first]); seq = skip(state, skipHeld, seq + 1)) {
    at.seq = seq + 1;
    // A number the walk did not skip is held by nothing when held ones are skipped.
    yield { item, held: skipHeld ? undefined : state.holds.at(seq, now) };
  }
}

/** The first number at or after `seq` that is neither acked nor held. */
export const nextReady = (state: QueueState, seq: number): number => skip(state, true, seq);

/** The first number at or after `seq` that is not acked (nor held, when `skipHeld`). */
function skip(state: QueueState, skipHeld: boolean, seq: number): number {
  for (let at = -1; at !== seq; ) {
    at = seq;
    seq = state.acked.endOf(seq);
    if (skipHeld) seq = state.holds.skip(seq);
  }
  return seq;
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
