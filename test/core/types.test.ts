import { describe, expectTypeOf, it } from 'vitest';
import { MemoryStore, Queue, type Lease, type QueueEntry, type QueueStats, type Store } from '../../src/index.js';

describe('public types', () => {
  it('Queue<T> carries T through push, take, peek, list and iteration', async () => {
    const q = await Queue.open<{ text: string }>({ name: 'typed', store: new MemoryStore() });
    expectTypeOf(q.push).parameter(0).toEqualTypeOf<{ text: string }>();
    expectTypeOf(q.pushMany).parameter(0).toEqualTypeOf<readonly { text: string }[]>();
    expectTypeOf(q.take()).resolves.toEqualTypeOf<Lease<{ text: string }> | undefined>();
    expectTypeOf(q.peek()).resolves.toEqualTypeOf<{ text: string }[]>();
    expectTypeOf(q.shift()).resolves.toEqualTypeOf<{ text: string } | undefined>();
    expectTypeOf(q.list()).resolves.toEqualTypeOf<QueueEntry<{ text: string }>[]>();
    expectTypeOf(q.stats()).resolves.toEqualTypeOf<QueueStats>();
    expectTypeOf(q[Symbol.asyncIterator]()).toEqualTypeOf<AsyncIterator<Lease<{ text: string }>>>();
    await q.push({ text: 'hi' });
    const lease = (await q.take())!;
    expectTypeOf(lease.entries[0]!.value).toEqualTypeOf<{ text: string }>();
    expectTypeOf(lease.entries[0]!.id).toBeString();
    // @ts-expect-error an item of another type is refused
    void q.push({ txt: 'no' }).catch(() => undefined);
    q.addEventListener('recover', (event) => expectTypeOf(event.detail.kind).toEqualTypeOf<'tail' | 'meta' | 'meta-missing' | 'meta-damaged' | 'rollback' | 'floor'>());
    await q.close();
  });

  it('MemoryStore is a Store', () => {
    expectTypeOf<MemoryStore>().toExtend<Store>();
  });
});
