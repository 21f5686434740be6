import type { LeaseEntry } from '../core/queue-types.js';
import type { Pending } from './pending-task.js';
import type { StoredTask } from './task.js';

type Entry = LeaseEntry<StoredTask>;

/**
 * Cuts what a take returned into units, in the order the index chose the tasks (higher priority first, a lane's
 * tasks together and in queue order): one task each, or with `chained` one unit per lane. With `ordered`, a lane with
 * a task missing (`taken` lacks it: another handle has it in flight) is cut there, the first of the lane as much as
 * any: what follows it must wait for it, and is `late`, to go back untried. Each chosen task learns its attempts from
 * its entry.
 */
export function chainUnits(
  chosen: readonly Pending[],
  taken: ReadonlyMap<string, Entry>,
  { chained, ordered }: { readonly chained: boolean; readonly ordered: boolean },
): { units: Entry[][]; late: Entry[] } {
  const units: Entry[][] = [];
  const late: Entry[] = [];
  let lane: string | undefined;
  let broken = false;
  let appended = false;
  chosen.forEach((p, i) => {
    const entry = taken.get(String(p.seq));
    p.attempts = entry?.attempts ?? p.attempts;
    const sameLane = i > 0 && p.lane === lane;
    if (!sameLane) broken = appended = false;
    lane = p.lane;
    if (!entry) broken = ordered;
    else if (broken) late.push(entry);
    else if (chained && appended) units[units.length - 1]!.push(entry);
    else {
      units.push([entry]);
      appended = true;
    }
  });
  return { units, late };
}
