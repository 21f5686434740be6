import { describe, expect, it } from 'vitest';
import { parseIds, randomId } from '../../src/core/ids.js';

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
