import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MemoryStore, Queue, type Store } from '../../src/index.js';
import { FileStore } from '../../src/stores/fs/file-store.js';
import { frameText } from '../../src/core/frame.js';
import { PARTITION_SPAN } from '../../src/core/ids.js';
import { hash, partitionName } from '../../src/core/partitioned.js';

/**
 * Writes the metadata of storage `name` as a checkpoint whose head (and next number) is `head`: a queue whose sequence
 * starts there, as one restored or edited to a high counter would.
 */
async function startAt(store: Store, name: string, head: number, k?: number): Promise<void> {
  const storage = await store.open(name);
  try {
    const { token } = await storage.load();
    const meta = frameText(JSON.stringify({ v: 2, gen: 'high', head, next: head, k, acked: [], attempts: [], holds: [] }));
    // With the empty segment a drained queue keeps at its next id, as a queue that got there would have.
    expect(await storage.commit(token, { meta, write: { segment: head, offset: 0, bytes: new Uint8Array(0) }, durability: 'relaxed' })).toBeDefined();
  } finally {
    await storage.close();
  }
}

const outOfIds = { code: 'ERR_QUOTA_EXCEEDED', message: expect.stringContaining('has no entry ids left') };

describe('a partition near 2^40 items', () => {
  it.each([
    ['MemoryStore', () => [new MemoryStore(), () => {}] as const],
    [
      'FileStore',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'sluice-ids-'));
        return [new FileStore({ dir }), () => rmSync(dir, { recursive: true, force: true })] as const;
      },
    ],
  ])('on a %s takes pushes up to its last id and refuses one past it with ERR_QUOTA_EXCEEDED, storing nothing; every id stays reachable', async (_, make) => {
    const [store, done] = make();
    onTestFinished(done);
    await startAt(store, 'q', PARTITION_SPAN - 3);
    const queue = await Queue.open<number>({ name: 'q', store });
    expect(await queue.pushMany([1, 2])).toEqual([String(PARTITION_SPAN - 3), String(PARTITION_SPAN - 2)]);
    await expect(queue.pushMany([3, 4])).rejects.toMatchObject(outOfIds);
    const last = await queue.push(3);
    expect(last).toBe(String(PARTITION_SPAN - 1));
    await expect(queue.push(4)).rejects.toMatchObject(outOfIds);
    expect(queue.recovered).toEqual([]);
    const ids = (await queue.list()).map((e) => e.id);
    expect(ids).toEqual([String(PARTITION_SPAN - 3), String(PARTITION_SPAN - 2), last]);
    expect((await queue.list({ ids })).map((e) => e.value)).toEqual([1, 2, 3]);
    expect(await queue.size()).toBe(3);
    expect(await queue.remove(ids)).toBe(3);
    expect(await queue.size()).toBe(0);
    // Acked to the end, the partition still has no id to give.
    await expect(queue.push(5)).rejects.toMatchObject(outOfIds);
    await queue.close();
  });

  it('refuses only the pushes of one group commit that do not fit: those before and after it that do are stored', async () => {
    const store = new MemoryStore();
    await startAt(store, 'q', PARTITION_SPAN - 2);
    const queue = await Queue.open<number>({ name: 'q', store });
    const [a, b, c] = await Promise.allSettled([queue.push(1), queue.pushMany([2, 3]), queue.push(4)]);
    expect(a).toEqual({ status: 'fulfilled', value: String(PARTITION_SPAN - 2) });
    expect(b).toMatchObject({ status: 'rejected', reason: outOfIds });
    expect(c).toEqual({ status: 'fulfilled', value: String(PARTITION_SPAN - 1) });
    const lease = (await queue.take(10))!;
    expect(lease.entries.map((e) => e.value)).toEqual([1, 4]);
    await lease.ack();
    expect(await queue.size()).toBe(0);
    await queue.close();
  });

  it('of a queue of two partitions refuses the push there rather than give an id of the next partition', async () => {
    const store = new MemoryStore();
    await (await Queue.open<number>({ name: 'q', store, partitions: 2 })).close();
    await startAt(store, partitionName('q', 1), PARTITION_SPAN - 1, 2);
    const queue = await Queue.open<number>({ name: 'q', store, partitions: 2 });
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => hash(k) % 2 === 1)!;
    const id = await queue.push(1, { key });
    expect(id).toBe(String(2 * PARTITION_SPAN - 1));
    await expect(queue.push(2, { key })).rejects.toMatchObject(outOfIds);
    const first = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => hash(k) % 2 === 0)!;
    expect(await queue.push(3, { key: first })).toBe('0');
    expect((await queue.list()).map((e) => [e.id, e.value])).toEqual([['0', 3], [id, 1]]);
    expect(await queue.remove([id])).toBe(1);
    await queue.close();
  });
});
