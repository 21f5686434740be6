import { expect, it } from 'vitest';
import { MemoryStore, Queue, SluiceError, type Store } from '../../src/index.js';
import { hash, partitionName } from '../../src/core/partitioned.js';

/** Loses the metadata of storage `name` (unreadable: its partition count record reads as lost, 0). */
async function garble(store: Store, name: string): Promise<void> {
  const storage = await store.open(name);
  const { token } = await storage.load();
  expect(await storage.commit(token, { meta: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), durability: 'relaxed' })).toBeDefined();
  await storage.close();
}
const codeOf = (e: unknown) => (e instanceof SluiceError ? `${e.code}: ${e.message}` : e);
const key0 = ['a', 'b', 'c', 'd', 'e', 'f'].find((k) => hash(k) % 2 === 0)!;
const key1 = ['a', 'b', 'c', 'd', 'e', 'f'].find((k) => hash(k) % 2 === 1)!;

it('2 partitions, both lost their metadata, items in the first, second drained: reopening with partitions: 2 works', async () => {
  const store = new MemoryStore();
  const q = await Queue.open<number>({ name: 'jobs', store, partitions: 2 });
  await q.push(1, { key: key0 });
  await q.push(2, { key: key1 });
  const lease = await q.take(2);
  await lease!.ack([lease!.entries.find((e) => e.value === 2)!.id]);
  await lease!.release();
  await q.close();
  for (const p of [0, 1]) await garble(store, partitionName('jobs', p));
  const again = await Queue.open<number>({ name: 'jobs', store, partitions: 2 }).catch((e: unknown) => e);
  expect(codeOf(again)).toBeInstanceOf(Queue);
});

it('an open 2-partition handle: both partitions lose their metadata, a push still goes in', async () => {
  const store = new MemoryStore();
  const q = await Queue.open<number>({ name: 'jobs', store, partitions: 2 });
  await q.push(1, { key: key0 });
  for (const p of [0, 1]) await garble(store, partitionName('jobs', p));
  const pushed = await q.push(3, { key: key1 }).catch((e: unknown) => e);
  expect(codeOf(pushed)).toMatch(/^\d/);
  await q.close();
});
