import type { CommitView, Plan } from './commit-view.js';
import { SluiceError } from './errors.js';
import type { RecoverDetail } from './events.js';
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
