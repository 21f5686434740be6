import { expect, it } from 'vitest';
import { MemoryStore, Queue } from '../../src/index.js';

it('smoke', async () => {
  const store = new MemoryStore();
  const q = await Queue.open<{ n: number }>({ name: 'q', store, segmentItems: 3 });
  await Promise.all([1, 2, 3, 4, 5].map((n) => q.push({ n })));
  await q.pushMany([{ n: 6 }, { n: 7 }]);
  expect(await q.size()).toBe(7);
  const l = await q.take(2);
  expect(l!.entries.map((e) => e.value.n)).toEqual([1, 2]);
  const l2 = await q.take(10);
  expect(l2!.entries.map((e) => e.value.n)).toEqual([3, 4, 5, 6, 7]);
  await l2!.ack([l2!.entries[1]!.id]);
  await l!.release();
  const l3 = await q.take(10);
  expect(l3!.entries.map((e) => [e.value.n, e.attempts])).toEqual([[1, 2], [2, 2]]);
  await l3!.ack();
  await l2!.ack();
  expect(await q.size()).toBe(0);
  expect((await q.stats()).segments).toBeLessThanOrEqual(1);
  await q.close();
  const q2 = await Queue.open<{ n: number }>({ name: 'q', store });
  expect(await q2.size()).toBe(0);
  await q2.push({ n: 8 });
  expect(await q2.peek(5)).toEqual([{ n: 8 }]);
});
