import { describe, expect, it } from 'vitest';
import { PARTITION_SPAN } from '../../src/core/ids.js';
import { evictions } from '../../src/outbox/limits.js';
import { PendingIndex } from '../../src/outbox/pending.js';
import type { StoredTask } from '../../src/outbox/task.js';

describe("limits 'drop-oldest' across partitions", () => {
  it('evicts the oldest task, not the first of the partitions as they were read', async () => {
    const index = new PendingIndex('group', 2);
    const task = (id: string, group: string, createdAt: number): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt, group });
    // Read from the store partition by partition (a handle opened after they were stored): partition 0's tasks first,
    // though the task of partition 1 was stored before all of them.
    for (let i = 0; i < 5; i++) index.add(i, task(`p0-${i}`, 'a', 2_000 + i), 0);
    index.add(PARTITION_SPAN, task('oldest', 'b', 1_000), 0);
    const limits = { maxTasks: 6, maxBytes: Infinity, overflow: 'drop-oldest' as const };
    const entries = async (chosen: readonly { seq: number }[]) => chosen.map((p) => ({ id: String(p.seq), value: index.get(p.seq)!.id as unknown as StoredTask, attempts: 0, state: 'ready' as const, availableAt: 0 }));
    const evicted = await evictions(limits, index, [task('new', 'b', 3_000)], [], entries, async () => undefined);
    expect(evicted.map((e) => e.value)).toEqual(['oldest']);
  });
});
