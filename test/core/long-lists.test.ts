import { describe, expect, it } from 'vitest';
import { append, splice } from '../../src/core/long-lists.js';
import { Intervals } from '../../src/core/intervals.js';
import { MemoryStore, Queue } from '../../src/index.js';

// Past some 120 000 arguments, a call spread from an array overflows the stack (a RangeError); these lists are longer.
const LONG = 200_000;

describe('append and splice', () => {
  it('append adds a list longer than a call takes arguments, in order', () => {
    const to = [-1];
    expect(append(to, Array.from({ length: LONG }, (_, i) => i))).toBe(to);
    expect(to.length).toBe(LONG + 1);
    expect(to[LONG]).toBe(LONG - 1);
  });

  it('splice replaces a span by a list longer than a call takes arguments, in order, as Array#splice would', () => {
    const to = [0, 1, 2, 3, 4];
    splice(to, 1, 2, Array.from({ length: LONG }, (_, i) => 10 + i));
    expect(to.length).toBe(LONG + 3);
    expect([to[0], to[1], to[LONG], to[LONG + 1], to[LONG + 2]]).toEqual([0, 10, LONG + 9, 3, 4]);
    splice(to, 1, LONG, [7]);
    expect(to).toEqual([0, 7, 3, 4]);
  });
});

describe('lists longer than a call takes arguments', () => {
  it('a queue of 200 000 items lists and peeks them all', async () => {
    const queue = await Queue.open<number>({ name: 'long', store: new MemoryStore() });
    for (let i = 0; i < LONG; i += 10_000) await queue.pushMany(Array.from({ length: 10_000 }, (_, j) => i + j));
    const listed = await queue.list();
    expect(listed.length).toBe(LONG);
    expect(listed[LONG - 1]!.value).toBe(LONG - 1);
    expect((await queue.peek(LONG)).length).toBe(LONG);
    await queue.close();
  });

  it('Intervals replaces a span by 200 000 runs, and back by one', () => {
    const map = new Intervals<number>();
    map.set(0, 10, 7);
    map.set(2 * LONG, 2 * LONG + 1, 9);
    // Every other number set: as many runs as numbers, then one update over all of them.
    for (let i = 20; i < 2 * LONG; i += 2) map.set(i, i + 1, 1);
    // Alternating values: nothing merges, so the span holds a run per number.
    map.update(20, 2 * LONG, (v) => (v === undefined ? 2 : 3));
    expect(map.size).toBe(2 * LONG - 20 + 2);
    map.update(20, 2 * LONG, () => 5);
    expect(map.runs().map((r) => [r.s, r.e, r.v])).toEqual([
      [0, 10, 7],
      [20, 2 * LONG, 5],
      [2 * LONG, 2 * LONG + 1, 9],
    ]);
  });
});
