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
    const evicted = await evictions(limits, index, [task('new', 'b', 3_000)], [], entries, async () => undefined, async () => index.size);
    expect(evicted.map((e) => e.value)).toEqual(['oldest']);
  });
});

describe("limits 'drop-oldest' with an index that still counts tasks gone elsewhere", () => {
  it('forgets them before it evicts: none is evicted for room they only seem to take', async () => {
    const index = new PendingIndex('none', 1);
    const task = (id: string, createdAt: number): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt });
    for (let i = 0; i < 10; i++) index.add(i, task(`t${i}`, 1_000 + i), 0);
    // Another process sent five of them: the queue holds five.
    const gone = [5, 6, 7, 8, 9];
    const forgetGone = async () => gone.forEach((seq) => index.remove(index.get(seq)!));
    const limits = { maxTasks: 10, maxBytes: Infinity, overflow: 'drop-oldest' as const };
    const entries = async (chosen: readonly { seq: number }[]) => chosen.map((p) => ({ id: String(p.seq), value: index.get(p.seq)! as unknown as StoredTask, attempts: 0, state: 'ready' as const, availableAt: 0 }));
    expect(await evictions(limits, index, [task('new', 3_000)], [], entries, forgetGone, async () => 5)).toEqual([]);
    expect(index.size).toBe(5);
  });
});
