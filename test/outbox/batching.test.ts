import { describe, expect, it } from 'vitest';
import type { LeaseEntry } from '../../src/core/queue-types.js';
import { packBatches } from '../../src/outbox/batching.js';
import type { StoredTask } from '../../src/outbox/task.js';

type Entry = LeaseEntry<StoredTask>;

const entry = (seq: number, group: string, body: unknown = { seq }): Entry => ({
  id: String(seq),
  value: { id: `t${seq}`, url: `http://x/${seq}`, method: 'POST', headers: {}, group, body: { json: body }, createdAt: 0 } as unknown as StoredTask,
  attempts: 1,
});
const ids = (units: Entry[][]) => units.map((u) => u.map((e) => e.id));
const LIMITS = { maxItems: 100, maxBytes: 1 << 20 };

/** Packs `entries`, the batch `before` (entry ids in order) being the one some of them failed in. */
function pack(entries: Entry[], before: readonly string[], ordering: 'group' | 'none' = 'group') {
  return packBatches(entries, ordering, LIMITS, { bytesOf: () => 10, batchedWith: (e) => (before.includes(e.id) ? before : undefined) });
}

describe('packBatches', () => {
  it('packs lanes into batches up to maxItems', () => {
    const { units, leftover } = packBatches([entry(1, 'a'), entry(2, 'b'), entry(3, 'a')], 'group', { maxItems: 2, maxBytes: 1 << 20 }, { bytesOf: () => 10, batchedWith: () => undefined });
    expect(ids(units)).toEqual([['1', '3'], ['2']]);
    expect(leftover).toEqual([]);
  });

  it('sends a batch that failed as it was, in its order, with the rest of its lanes held behind it', () => {
    const before = ['3', '1', '2'];
    const { units, leftover } = pack([entry(1, 'a'), entry(2, 'b'), entry(3, 'c'), entry(4, 'a'), entry(5, 'd')], before);
    expect(ids(units)).toEqual([['3', '1', '2'], ['5']]);
    expect(leftover.map((e) => e.id)).toEqual(['4']);
  });

  it('holds a task of a failed batch behind a task of its lane that was not in it, and everything after in that lane', () => {
    const { units, leftover } = pack([entry(1, 'a'), entry(2, 'a'), entry(3, 'a'), entry(4, 'b')], ['2', '4']);
    // 2 waits behind 1 (a lane is in order); 3 behind 2; 4, the rest of that batch, goes as it is now.
    expect(ids(units)).toEqual([['4'], ['1']]);
    expect(leftover.map((e) => e.id)).toEqual(['2', '3']);
  });

  it('without ordering, holds nothing back: the failed batch and the rest go side by side', () => {
    const { units, leftover } = pack([entry(1, ''), entry(2, ''), entry(3, ''), entry(4, '')], ['2', '3'], 'none');
    expect(ids(units)).toEqual([['2', '3'], ['1', '4']]);
    expect(leftover).toEqual([]);
  });
});
