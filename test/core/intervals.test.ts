import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Intervals } from '../../src/core/intervals.js';

/** The runs as `[s, e, v]`, and whether they are sorted, disjoint, non-empty, and merged where values are equal. */
const runs = <V>(map: Intervals<V>) => map.runs().map((r) => [r.s, r.e, r.v] as const);
const valid = <V>(map: Intervals<V>) =>
  map.runs().every((r, i, all) => r.s < r.e && (i === 0 || all[i - 1]!.e < r.s || (all[i - 1]!.e === r.s && all[i - 1]!.v !== r.v)));

describe('Intervals', () => {
  const ops = fc.array(fc.tuple(fc.constantFrom('set', 'delete', 'bump'), fc.nat(60), fc.nat(8), fc.nat(2)), { maxLength: 40 });

  it('.set(), .delete() and .update() agree with a Map, and keep runs sorted, disjoint and merged', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const map = new Intervals<number>();
        const model = new Map<number, number>();
        for (const [op, start, length, value] of list) {
          const end = start + length;
          if (op === 'set') map.set(start, end, value);
          else if (op === 'delete') map.delete(start, end);
          else map.update(start, end, (v = 0) => (v + 1 > 2 ? undefined : v + 1));
          for (let n = start; n < end; n++) {
            if (op === 'set') model.set(n, value);
            else if (op === 'delete') model.delete(n);
            else if ((model.get(n) ?? 0) + 1 > 2) model.delete(n);
            else model.set(n, (model.get(n) ?? 0) + 1);
          }
          expect(valid(map)).toBe(true);
        }
        for (let n = 0; n < 70; n++) expect(map.get(n)).toBe(model.get(n));
        for (const [a, b] of [[10, 20], [0, 70], [33, 34], [5, 5]] as const) {
          expect(map.overlaps(a, b)).toBe([...model.keys()].some((n) => n >= a && n < b));
          expect(map.count(a, b)).toBe([...model.keys()].filter((n) => n >= a && n < b).length);
        }
      }),
      { numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 100) },
    );
  });

  it('.endOf() jumps over a run of equal values: a million acked items are one run', () => {
    const acked = new Intervals<true>();
    for (let n = 0; n < 1000; n++) acked.set(n * 1000, (n + 1) * 1000, true);
    expect(acked.size).toBe(1);
    expect(acked.endOf(0)).toBe(1_000_000);
    expect(acked.endOf(1_000_000)).toBe(1_000_000);
    acked.delete(500, 501);
    expect(runs(acked)).toEqual([[0, 500, true], [501, 1_000_000, true]]);
    expect(acked.endOf(0)).toBe(500);
    expect(acked.endOf(500)).toBe(500);
  });

  it('.runs(s, e) cuts the runs to the window it is asked for', () => {
    const map = new Intervals<string>();
    map.set(0, 10, 'a');
    map.set(10, 20, 'b');
    expect(map.runs(5, 15).map((r) => [r.s, r.e, r.v])).toEqual([[5, 10, 'a'], [10, 15, 'b']]);
    expect(map.first()).toEqual({ s: 0, e: 10, v: 'a' });
  });
});
