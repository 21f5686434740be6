import { describe, expect, it } from 'vitest';
import { toRanges } from '../../src/core/ranges.js';

describe('ranges', () => {
  it('toRanges() groups sorted numbers into runs', () => {
    expect(toRanges([1, 2, 3, 5, 7, 8])).toEqual([[1, 4], [5, 6], [7, 9]]);
    expect(toRanges([])).toEqual([]);
  });
});
