import { describe, expect, it } from 'vitest';
import { PARTITION_SPAN } from '../../src/core/ids.js';
import { Queue } from '../../src/core/queue.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

describe('keyless pushes of a partitioned queue', () => {
  it('do not all land in the first partition when each handle pushes once', async () => {
    const store = new MemoryStore();
    const partitions = new Set<number>();
    for (let h = 0; h < 24; h++) {
      const q = await Queue.open<number>({ name: 'q', store, partitions: 4 });
      partitions.add(Math.floor(Number(await q.push(h)) / PARTITION_SPAN));
      await q.close();
    }
    // Each handle starting at partition 0 puts all 24 there; a start of its own spreads them (all in one: 4^-23).
    expect(partitions.size).toBeGreaterThan(1);
  });
});
