import type { LeaseEntry } from '../core/queue-types.js';
import type { Pending } from './pending-task.js';
import type { StoredTask } from './task.js';

type Entry = LeaseEntry<StoredTask>;

/**
 * Cuts what a take returned into units, in the order the index chose the tasks (higher priority first, a lane's
 * tasks together and in queue order): one task each, or with `chained` one unit per lane. A lane with a task
 * missing (`taken` lacks it) is cut there: what follows it must wait for it, and is `late`, to go back untried.
 * Each chosen task learns its attempts from its entry.
 */
export function chainUnits(chosen: readonly Pending[], taken: ReadonlyMap<string, Entry>, chained: boolean): { units: Entry[][]; late: Entry[] } {
  const units: Entry[][] = [];
  const late: Entry[] = [];
  let lane: string | undefined;
  let broken = false;
  for (const p of chosen) {
    const entry = taken.get(String(p.seq));
    p.attempts = entry?.attempts ?? p.attempts;
    const same = chained && units.length > 0 && p.lane === lane;
    if (!same) broken = false;
    lane = p.lane;
    if (!entry) broken = chained;
    else if (broken) late.push(entry);
    else if (same) units[units.length - 1]!.push(entry);
    else units.push([entry]);
  }
  return { units, late };
}
