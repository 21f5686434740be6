import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addRange, countIn, findRange, removeRange, toRanges, type Range } from '../../src/core/ranges.js';

const members = (ranges: readonly Range[]) => ranges.flatMap(([s, e]) => Array.from({ length: e - s }, (_, i) => s + i));
const valid = (ranges: readonly Range[]) => ranges.every(([s, e], i) => s < e && (i === 0 || ranges[i - 1]![1] < s));

describe('ranges', () => {
  const ops = fc.array(fc.tuple(fc.boolean(), fc.nat(60), fc.nat(8)), { maxLength: 30 });

  it('addRange() and removeRange() agree with a set, and keep ranges sorted, disjoint and non-adjacent', () => {
    fc.assert(
      fc.property(ops, (list) => {
        let ranges: Range[] = [];
        const set = new Set<number>();
        for (const [add, start, length] of list) {
          ranges = add ? addRange(ranges, start, start + length) : removeRange(ranges, start, start + length);
          for (let n = start; n < start + length; n++) add ? set.add(n) : set.delete(n);
          expect(valid(ranges)).toBe(true);
          expect(members(ranges)).toEqual([...set].sort((a, b) => a - b));
        }
        for (let n = 0; n < 70; n++) expect(findRange(ranges, n) >= 0).toBe(set.has(n));
        expect(countIn(ranges, 10, 40)).toBe([...set].filter((n) => n >= 10 && n < 40).length);
      }),
    );
  });

  it('toRanges() groups sorted numbers into runs', () => {
    expect(toRanges([1, 2, 3, 5, 7, 8])).toEqual([[1, 4], [5, 6], [7, 9]]);
    expect(toRanges([])).toEqual([]);
  });
});
