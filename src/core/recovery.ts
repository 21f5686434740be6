import { STALE, type CommitView, type Plan } from './commit-view.js';
import { SluiceError } from './errors.js';
import type { CorruptDetail, RecoverDetail } from './events.js';
import type { Op } from './queue-state.js';

/**
 * The commit that puts storage right after a reload found it wrong, or undefined when nothing is: a torn or
 * damaged tail is cut back to its last complete unit; what the state says of numbers the cut took (acks, leases,
 * attempts) is forgotten, since the next pushes reuse them; metadata that was unreadable or missing is written
 * again whole. Each repair is reported once it is stored.
 */
export function repairPlan(view: CommitView, name: string, corruption: 'throw' | 'skip', report: (detail: RecoverDetail) => void): Plan<undefined> | undefined {
  const { damage, trouble } = view;
  const next = view.next;
  const forget = view.state.knowsPast(next);
  if (!damage && !trouble && !forget) return undefined;
  if (damage?.corrupt && corruption === 'throw') {
    throw new SluiceError(
      'ERR_CORRUPT',
      `Segment ${damage.segment} of queue "${name}" fails its checksum at byte ${damage.offset}, and valid data follows, so it is not a torn write. ` +
        `Open the queue with corruption: 'skip' to cut the segment there (losing ${damage.bytes} bytes), or inspect the store first.`,
    );
  }
  const ops: Op[] = forget ? [['c', next]] : [];
  const reports: RecoverDetail[] = [];
  if (damage) reports.push({ queue: name, kind: 'tail', segment: damage.segment, offset: damage.offset, bytes: damage.bytes, corrupt: damage.corrupt });
  if (trouble) {
    // Everything the segments hold may be handed out again: the state that said it was acked is gone or in doubt.
    const from = view.segments.list[0]?.id ?? view.state.head;
    reports.push({ queue: name, kind: trouble === 'unreadable' ? 'meta' : trouble === 'missing' ? 'meta-missing' : 'meta-damaged', again: [String(from), String(next)] });
  }
  if (forget) reports.push({ queue: name, kind: 'rollback', from: String(next) });
  return {
    ops,
    whole: trouble !== undefined,
    ...(damage && { batch: { write: { segment: damage.segment, offset: damage.offset, bytes: new Uint8Array(0) } } }),
    result: undefined,
    done: () => {
      view.damage = undefined;
      view.trouble = undefined;
      for (const detail of reports) report(detail);
    },
  };
}

/**
 * Unacked items `[from, to)` that `segment` should hold cannot be read: the segment failed its checksum there, or
 * it (or a part of it) is gone. A 'corrupt' event names them; then, with corruption 'throw', 'ERR_CORRUPT'; with
 * 'skip', they are counted as acked (lost, and said so) and the walk starts again on the new state (STALE).
 */
export async function lost(
  view: CommitView,
  where: { readonly queue: string; readonly segment: number; readonly from: number; readonly to: number; readonly corruption: 'throw' | 'skip' },
  c: { readonly tell: (detail: CorruptDetail) => void; readonly ack: (seqs: number[]) => Plan<undefined> },
): Promise<void> {
  const { state } = view;
  const { queue, segment, from, to, corruption } = where;
  const seqs: number[] = [];
  for (let seq = from; seq < to; seq = state.acked.endOf(seq + 1)) if (!state.isAcked(seq)) seqs.push(seq);
  if (seqs.length === 0) return;
  const damage = view.segments.damageOf(segment);
  const reason = damage === undefined ? 'missing' : 'checksum';
  c.tell({ queue, segment, offset: damage ?? 0, lost: seqs.map(String), action: corruption, reason });
  if (corruption === 'throw') {
    const what =
      reason === 'checksum'
        ? `Segment ${segment} of queue "${queue}" fails its checksum at byte ${damage}: ${seqs.length} unacked items after it cannot be read.`
        : `${seqs.length} unacked items of queue "${queue}" (ids ${seqs[0]} to ${seqs[seqs.length - 1]}) are in no segment: storage under the queue was removed or cut.`;
    throw new SluiceError('ERR_CORRUPT', `${what} Open the queue with corruption: 'skip' to deliver the rest and count those as lost.`);
  }
  await view.commit(() => c.ack(seqs));
  throw STALE;
}
