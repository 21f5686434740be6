import { describe, expect, it } from 'vitest';
import type { LeaseEntry } from '../../src/core/queue-types.js';
import { chainUnits } from '../../src/outbox/chains.js';
import { pendingOf } from '../../src/outbox/pending-task.js';
import type { StoredTask } from '../../src/outbox/task.js';

const task = (id: string, group: string): StoredTask => ({ id, url: `http://x/${id}`, method: 'POST', headers: {}, group, createdAt: 0 }) as StoredTask;
const chosen = (...specs: [number, string][]) => specs.map(([seq, group]) => pendingOf(seq, task(`t${seq}`, group), 0, 'group'));
const entries = (...seqs: number[]) =>
  new Map(seqs.map((seq) => [String(seq), { id: String(seq), value: task(`t${seq}`, ''), attempts: seq % 3 } as LeaseEntry<StoredTask>]));
const CHAINED = { chained: true, ordered: true };
const ids = (units: LeaseEntry<StoredTask>[][]) => units.map((u) => u.map((e) => e.id));

describe('chainUnits', () => {
  it("makes one unit per lane, in the order chosen, and each task learns its attempts", () => {
    const picked = chosen([1, 'a'], [2, 'a'], [3, 'b'], [4, 'a']);
    const { units, late } = chainUnits(picked, entries(1, 2, 3, 4), CHAINED);
    // A lane that comes back after another is a unit of its own: the index never chooses so, but order is kept.
    expect(ids(units)).toEqual([['1', '2'], ['3'], ['4']]);
    expect(late).toEqual([]);
    expect(picked.map((p) => p.attempts)).toEqual([1, 2, 0, 1]);
  });

  it('cuts a lane at a task the take did not return: what follows it is late, other lanes go on', () => {
    const { units, late } = chainUnits(chosen([1, 'a'], [2, 'a'], [3, 'a'], [5, 'b'], [6, 'b']), entries(1, 3, 5, 6), CHAINED);
    expect(ids(units)).toEqual([['1'], ['5', '6']]);
    expect(late.map((e) => e.id)).toEqual(['3']);
  });

  it("cuts a lane at its first task too, when another handle has it in flight: the lane's next task waits", () => {
    const { units, late } = chainUnits(chosen([1, 'a'], [2, 'a'], [3, 'a'], [5, 'b']), entries(2, 3, 5), CHAINED);
    expect(ids(units)).toEqual([['5']]);
    expect(late.map((e) => e.id)).toEqual(['2', '3']);
  });

  it('in order but without chains (batches), every task is a unit of its own, and a lane is cut all the same', () => {
    const { units, late } = chainUnits(chosen([1, 'a'], [2, 'a'], [3, 'a'], [4, 'b'], [5, 'b']), entries(2, 3, 4, 5), { chained: false, ordered: true });
    expect(ids(units)).toEqual([['4'], ['5']]);
    expect(late.map((e) => e.id)).toEqual(['2', '3']);
  });

  it("with ordering 'none', every task is a unit of its own and none is late", () => {
    const { units, late } = chainUnits(chosen([1, 'a'], [2, 'a'], [3, 'a']), entries(1, 3), { chained: false, ordered: false });
    expect(ids(units)).toEqual([['1'], ['3']]);
    expect(late).toEqual([]);
  });
});
