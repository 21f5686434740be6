import type { LeaseEntry } from '../core/queue-types.js';
import { batchable } from './request.js';
import { laneOf, type Ordering } from './pending.js';
import type { StoredTask } from './task.js';

type Entry = LeaseEntry<StoredTask>;

/**
 * Packs taken entries into batch requests. Batches of one call run in parallel, so each lane (group) must travel
 * in one batch to keep its order; what of a lane does not fit (bytes), or follows a task with a binary body (which
 * goes alone), is `leftover`, to be released at once and taken on the next pass. `bytesOf` gives an entry's size as
 * `maxBytes` counts it (the pending index keeps it: measuring a task means encoding it).
 */
export function packBatches(
  entries: readonly Entry[],
  ordering: Ordering,
  limits: { maxItems: number; maxBytes: number },
  bytesOf: (entry: Entry) => number,
): { units: Entry[][]; leftover: Entry[] } {
  const lanes = new Map<string | symbol, Entry[]>();
  for (const entry of entries) {
    // Without ordering, every task is a lane of its own.
    const lane = laneOf(entry.value, ordering) ?? Symbol();
    if (!lanes.has(lane)) lanes.set(lane, []);
    lanes.get(lane)!.push(entry);
  }
  const units: Entry[][] = [];
  const leftover: Entry[] = [];
  let current: Entry[] = [];
  let bytes = 0;
  const close = () => {
    if (current.length > 0) units.push(current);
    current = [];
    bytes = 0;
  };
  for (const lane of lanes.values()) {
    if (!batchable(lane[0]!.value)) {
      units.push([lane[0]!]);
      leftover.push(...lane.slice(1));
      continue;
    }
    let cut = lane.findIndex((e) => !batchable(e.value));
    if (cut < 0) cut = lane.length;
    let size = 0;
    let fits = 0;
    for (; fits < cut; fits++) {
      const next = bytesOf(lane[fits]!);
      if (size + next > limits.maxBytes) break;
      size += next;
    }
    fits = Math.max(fits, 1);
    if (current.length + fits > limits.maxItems || bytes + size > limits.maxBytes) close();
    current.push(...lane.slice(0, fits));
    bytes += size;
    leftover.push(...lane.slice(fits));
  }
  close();
  return { units, leftover };
}
