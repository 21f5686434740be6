import type { LeaseEntry } from '../core/queue-types.js';
import { batchable } from './request.js';
import { laneOf, type Ordering } from './pending.js';
import type { StoredTask } from './task.js';

type Entry = LeaseEntry<StoredTask>;

/** What `packBatches` knows of an entry beyond the entry itself (the pending index keeps both). */
export interface BatchSight {
  /** Its size as `maxBytes` counts it: measuring a task means encoding it. */
  readonly bytesOf: (entry: Entry) => number;
  /** The entry ids of the batch it failed in, in order, while that batch waits for its retry (see `Pending`). */
  readonly batchedWith: (entry: Entry) => readonly string[] | undefined;
}

/**
 * Packs taken entries into batch requests. Batches of one call run in parallel, so each lane (group) must travel
 * in one batch to keep its order; what of a lane does not fit (bytes), or follows a task with a binary body (which
 * goes alone), is `leftover`, to be released at once and taken on the next pass. A batch that failed goes again as
 * it was, without the tasks stored since (those of its lanes wait for it): its Idempotency-Key names its tasks, so a
 * server that saw the first attempt knows the retry, where one made up afresh would carry the same tasks anew.
 */
export function packBatches(
  entries: readonly Entry[],
  ordering: Ordering,
  limits: { maxItems: number; maxBytes: number },
  { bytesOf, batchedWith }: BatchSight,
): { units: Entry[][]; leftover: Entry[] } {
  const { again, held, rest } = formerBatches(entries, ordering, batchedWith);
  const lanes = new Map<string | symbol, Entry[]>();
  for (const entry of rest) {
    // Without ordering, every task is a lane of its own.
    const lane = laneOf(entry.value, ordering) ?? Symbol();
    if (!lanes.has(lane)) lanes.set(lane, []);
    lanes.get(lane)!.push(entry);
  }
  const units: Entry[][] = again;
  const leftover: Entry[] = held;
  // Each task counts its body and the comma or opening bracket before it: what is left is the closing bracket.
  const room = limits.maxBytes - 1;
  let current: Entry[] = [];
  let bytes = 0;
  const close = () => {
    if (current.length > 0) units.push(current);
    current = [];
    bytes = 0;
  };
  for (const lane of lanes.values()) {
    // A task no batch can carry, or larger alone than a batch may be, goes alone; the rest of its lane after it.
    if (!batchable(lane[0]!.value) || bytesOf(lane[0]!) > room) {
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
      if (size + next > room) break;
      size += next;
    }
    if (current.length + fits > limits.maxItems || bytes + size > room) close();
    current.push(...lane.slice(0, fits));
    bytes += size;
    leftover.push(...lane.slice(fits));
  }
  close();
  return { units, leftover };
}

/**
 * Sorts `entries` out into the batches that failed before (each with those of its tasks taken now, in its order),
 * the entries `held` behind one in their lane, and the `rest`. A task of a failed batch behind a task of its lane that
 * is not in it waits too (the lane's order first), and a failed batch of which some tasks are gone goes without them:
 * it is another batch, which another key must name.
 */
function formerBatches(
  entries: readonly Entry[],
  ordering: Ordering,
  batchedWith: (entry: Entry) => readonly string[] | undefined,
): { again: Entry[][]; held: Entry[]; rest: Entry[] } {
  const former = new Map<readonly string[], Entry[]>();
  const held: Entry[] = [];
  const rest: Entry[] = [];
  // What a lane's first entry here was part of (a failed batch, or none); `cut`: lanes held from some entry on.
  const first = new Map<string, readonly string[] | undefined>();
  const cut = new Set<string>();
  for (const entry of entries) {
    const lane = laneOf(entry.value, ordering);
    const ids = batchedWith(entry);
    if (lane !== undefined) {
      if (!first.has(lane)) first.set(lane, ids);
      if (cut.has(lane) || first.get(lane) !== ids) {
        cut.add(lane);
        held.push(entry);
        continue;
      }
    }
    if (!ids) {
      rest.push(entry);
      continue;
    }
    if (!former.has(ids)) former.set(ids, []);
    former.get(ids)!.push(entry);
  }
  const again = [...former].map(([ids, taken]) => {
    const place = new Map(ids.map((id, i) => [id, i]));
    return taken.sort((a, b) => place.get(a.id)! - place.get(b.id)!);
  });
  return { again, held, rest };
}
