import { describe, expect, it } from 'vitest';
import { leaseIds, parseIds, randomId, taskIds } from '../../src/core/ids.js';

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

describe('holes in an array of ids', () => {
  // `map` and `every` skip holes: `remove([, '1'])` removed item 1 and passed over the hole, and an outbox's
  // `remove([, 'x'])` took the hole for a task id.
  const holey = (...rest: string[]) => [, ...rest] as unknown as string[];

  it('are refused by parseIds, leaseIds and taskIds, named as a hole', () => {
    expect(() => parseIds(holey('1'))).toThrow('Expected `ids` to hold entry ids, got a hole in the array.');
    expect(() => leaseIds(holey('5'), new Set(['5']))).toThrow("Expected `ids` to hold ids of this lease's entries (strings, as `entries[i].id`), got a hole in the array.");
    expect(() => taskIds(holey('t'))).toThrow('Expected `ids` to hold task ids (strings), got a hole in the array at index 0.');
  });
});

describe('taskIds()', () => {
  it('takes strings, and names what else it got and where: a number, a task object', () => {
    expect(taskIds(['a', 'b'])).toEqual(['a', 'b']);
    expect(() => taskIds(['a', 5 as unknown as string])).toThrow('Expected `ids` to hold task ids (strings), got 5 at index 1.');
    expect(() => taskIds([{ id: 'a' } as unknown as string])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => taskIds('a' as unknown as string[])).toThrow('Expected `ids` to be an array of task ids, got the string "a": pass ["a"].');
  });
});
