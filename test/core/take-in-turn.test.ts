import { describe, expect, it } from 'vitest';
import type { Partition } from '../../src/core/partition.js';
import { takeInTurn } from '../../src/core/partitioned.js';
import type { Lease } from '../../src/core/queue-types.js';

// Where a handle of a partitioned queue takes next: its own partition while that goes without contention, else one
// that holds items and no other handle's leases.

interface Fake {
  size: number;
  owners: string[];
  /** What a take there does: yields `n` items, and meets another handle's commit first when `meets`. */
  n: number;
  meets?: boolean;
}

function run(fakes: Fake[], start: number, max: number) {
  const parts = fakes.map((f) => ({ owner: 'me', view: { conflicts: 0, size: f.size, state: { holds: { owners: () => f.owners.values() } } } }));
  const visited: number[] = [];
  const take = async (part: (typeof parts)[number], p: number, want: number) => {
    visited.push(p);
    if (fakes[p]!.meets) part.view.conflicts++;
    const n = Math.min(want, fakes[p]!.n);
    return n === 0 ? undefined : ({ entries: Array.from({ length: n }, (_, i) => ({ id: `${p}:${i}` })) } as unknown as Lease<unknown>);
  };
  return takeInTurn(parts as unknown as Partition<unknown>[], start, max, take as never, () => 0.99).then((r) => ({ ...r, visited }));
}

describe('takeInTurn', () => {
  it('stays with its partition while it takes there without contention', async () => {
    const { next, visited } = await run([{ size: 9, owners: [], n: 9 }, { size: 9, owners: [], n: 9 }], 1, 5);
    expect([next, visited]).toEqual([1, [1]]);
  });

  it('after meeting another handle there, moves to a partition with items and no other handle\'s leases', async () => {
    const fakes: Fake[] = [
      { size: 9, owners: ['other'], n: 9 },
      { size: 9, owners: ['me', 'other'], n: 5, meets: true },
      { size: 0, owners: [], n: 0 },
      { size: 9, owners: ['me'], n: 9 },
      { size: 9, owners: ['other'], n: 9 },
    ];
    const { next, taken } = await run(fakes, 1, 5);
    expect(next).toBe(3);
    expect(taken.map(([p]) => p)).toEqual([1]);
  });

  it('with its partition empty, fills up elsewhere, and moves to a free partition rather than where it filled up', async () => {
    const fakes: Fake[] = [
      { size: 9, owners: [], n: 9 },
      { size: 0, owners: [], n: 0 },
      { size: 9, owners: ['other'], n: 3 },
      { size: 9, owners: ['other'], n: 9 },
    ];
    const { next, taken } = await run(fakes, 1, 5);
    expect(taken.map(([p, lease]) => [p, lease.entries.length])).toEqual([[2, 3], [3, 2]]);
    expect(next).toBe(0);
  });

  it('where every other partition is held by others, moves to one of them all the same', async () => {
    const fakes: Fake[] = [
      { size: 9, owners: ['a'], n: 9 },
      { size: 9, owners: ['b'], n: 0, meets: true },
      { size: 9, owners: ['c'], n: 9 },
    ];
    const { next } = await run(fakes, 1, 5);
    expect([0, 2]).toContain(next);
  });
});
