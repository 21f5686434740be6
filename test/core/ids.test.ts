import { describe, expect, it } from 'vitest';
import { leaseIds, parseIds, randomId } from '../../src/core/ids.js';

describe('randomId()', () => {
  it('gives 16 hex digits, distinct across many calls (pool refills included)', () => {
    const ids = Array.from({ length: 1000 }, () => randomId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(1000);
  });
});

describe('parseIds()', () => {
  it('turns entry ids into sorted distinct numbers and refuses anything else with ERR_INVALID_OPTION', () => {
    expect(parseIds(['3', '1', '3'])).toEqual([1, 3]);
    for (const bad of [['x'], ['-1'], ['1.5'], [1 as unknown as string], 'nope' as unknown as string[]]) {
      expect(() => parseIds(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
  });
});

describe('parseIds() and leaseIds() given no array', () => {
  it('say what they got; one id not in an array is shown in one', () => {
    for (const check of [(ids: string[]) => parseIds(ids), (ids: string[]) => leaseIds(ids, new Set(['5']))]) {
      expect(() => check('5' as unknown as string[])).toThrow('Expected `ids` to be an array of entry ids, got the string "5": pass ["5"].');
      expect(() => check(5 as unknown as string[])).toThrow('Expected `ids` to be an array of entry ids, got 5.');
    }
  });
});
