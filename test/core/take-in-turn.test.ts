import { describe, expect, it } from 'vitest';
import type { Partition } from '../../src/core/partition.js';
import { takeInTurn } from '../../src/core/partitioned.js';
import type { Lease } from '../../src/core/queue-types.js';

// How a handle of a partitioned queue takes: partitions in the order given (its own first) until it has enough,
// noting whether another handle met it on the first.

interface Fake {
  /** What a take there does: yields `n` items, and meets another handle's commit first when `meets`. */
  n: number;
  meets?: boolean;
}

function run(fakes: Fake[], order: number[], max: number, own = order.length) {
  const parts = fakes.map(() => ({ view: { conflicts: 0 } }));
  const visited: number[] = [];
  const take = async (part: (typeof parts)[number], p: number, want: number) => {
    visited.push(p);
    if (fakes[p]!.meets) part.view.conflicts++;
    const n = Math.min(want, fakes[p]!.n);
    return n === 0 ? undefined : ({ entries: Array.from({ length: n }, (_, i) => ({ id: `${p}:${i}` })) } as unknown as Lease<unknown>);
  };
  return takeInTurn(parts as unknown as Partition<unknown>[], { order, own }, max, take as never).then((r) => ({ ...r, visited }));
}

describe('takeInTurn', () => {
  it('takes from the first partition of the order alone when it holds enough', async () => {
    const { taken, met, visited } = await run([{ n: 9 }, { n: 9 }], [1, 0], 5);
    expect([visited, met, taken.map(([p, l]) => [p, l.entries.length])]).toEqual([[1], false, [[1, 5]]]);
  });

  it('fills up from its own partitions in order, skipping empty ones', async () => {
    const { taken, visited } = await run([{ n: 9 }, { n: 0 }, { n: 3 }, { n: 9 }], [1, 2, 3, 0], 5);
    expect(visited).toEqual([1, 2, 3]);
    expect(taken.map(([p, l]) => [p, l.entries.length])).toEqual([[2, 3], [3, 2]]);
  });

  it('past its own, takes from one other partition, and only when its own had nothing', async () => {
    const fakes: Fake[] = [{ n: 2 }, { n: 0 }, { n: 3 }, { n: 9 }];
    expect((await run(fakes, [0, 1, 2, 3], 5, 2)).visited).toEqual([0, 1]);
    const { visited, taken } = await run([{ n: 0 }, { n: 0 }, { n: 3 }, { n: 9 }], [0, 1, 2, 3], 5, 2);
    expect([visited, taken.map(([p, l]) => [p, l.entries.length])]).toEqual([[0, 1, 2], [[2, 3]]]);
  });

  it('past its own, goes on to the next other partition while those visited had nothing: never empty while items wait', async () => {
    const some = await run([{ n: 0 }, { n: 0 }, { n: 0 }, { n: 9 }], [0, 1, 2, 3], 5, 2);
    expect([some.visited, some.taken.map(([p, l]) => [p, l.entries.length])]).toEqual([[0, 1, 2, 3], [[3, 5]]]);
    const none = await run([{ n: 0 }, { n: 0 }, { n: 0 }, { n: 0 }], [0, 1, 2, 3], 5, 2);
    expect([none.visited, none.taken]).toEqual([[0, 1, 2, 3], []]);
  });

  it('says when another handle met it on the first partition, and only there', async () => {
    expect((await run([{ n: 2, meets: true }, { n: 9 }], [0, 1], 5)).met).toBe(true);
    expect((await run([{ n: 2 }, { n: 9, meets: true }], [0, 1], 5)).met).toBe(false);
  });

  it('resolves nothing taken when every partition is empty, having visited each once', async () => {
    const { taken, visited } = await run([{ n: 0 }, { n: 0 }, { n: 0 }], [2, 0, 1], 5);
    expect([taken, visited]).toEqual([[], [2, 0, 1]]);
  });
});
