import { concat } from './encode.js';

/** Pushes waiting for the next group commit. A `pushMany` is one unit: all its items commit together. */
export interface Unit {
  readonly frames: Uint8Array;
  readonly count: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** The tail segment as the queue sees it: where its last complete unit ends and how many items it holds. */
interface Tail {
  readonly id: number;
  readonly end: number;
  readonly count: number;
}

/**
 * Which of the waiting units go into the next commit, and where: as many as fit in the tail segment, else in a
 * new segment starting at `next`. A unit never spans segments, so one commit is one write to one segment; a unit
 * larger than a whole segment gets a segment of its own.
 */
export function planAppend(
  pending: readonly Unit[],
  tail: Tail | undefined,
  next: number,
  limits: { readonly segmentItems: number; readonly segmentBytes: number },
): { units: Unit[]; write: { segment: number; offset: number; bytes: Uint8Array } } {
  const fitting = (items: number, bytes: number): Unit[] => {
    const out: Unit[] = [];
    for (const unit of pending) {
      if (items + unit.count > limits.segmentItems || bytes + unit.frames.length > limits.segmentBytes) break;
      items += unit.count;
      bytes += unit.frames.length;
      out.push(unit);
    }
    return out;
  };
  let units: Unit[] = [];
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
  return { units, write: { segment, offset, bytes } };
}
