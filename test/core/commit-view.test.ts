import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import type { QueueStorage, Store } from '../../src/core/store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

/** `inner`, with `before` run once (then disarmed) between a load and the read that follows it. */
function racing(inner: Store, hook: { before?: () => Promise<void> }): Store {
  return {
    async open(name) {
      const s = await inner.open(name);
      let loaded = false;
      const storage: QueueStorage = {
        load: async () => {
          const snapshot = await s.load();
          loaded = true;
          return snapshot;
        },
        token: () => s.token(),
        read: async (segment, start, end) => {
          const before = hook.before;
          if (loaded && before) {
            hook.before = undefined;
            await before();
          }
          loaded = false;
          return s.read(segment, start, end);
        },
        commit: (token, batch) => s.commit(token, batch),
        close: () => s.close(),
      };
      return storage;
    },
  };
}

describe('a reload', () => {
  it('whose tail another handle acked and removed before it was read loads again: nothing is taken for lost', async () => {
    const memory = new MemoryStore();
    const hook: { before?: () => Promise<void> } = {};
    const a = await Queue.open<number>({ name: 'q', store: memory });
    const b = await Queue.open<number>({ name: 'q', store: racing(memory, hook) });
    const corrupt: unknown[] = [];
    b.addEventListener('corrupt', (event) => corrupt.push(event.detail));
    await a.pushMany([1, 2, 3]);
    const lease = (await a.take(3))!;
    // b lists the tail and sees a's lease on its items; a acks them all (removing the segment) before b reads it.
    hook.before = () => lease.ack();
    expect(await b.size()).toBe(0);
    expect(hook.before).toBeUndefined();
    await b.push(4);
    expect(await b.take(10)).toMatchObject({ entries: [{ value: 4 }] });
    expect(corrupt).toEqual([]);
    await a.close();
    await b.close();
  });

  it('whose tail reads short every time says the store does not keep what it lists (ERR_STORAGE), not that items were lost', async () => {
    const memory = new MemoryStore();
    const a = await Queue.open<number>({ name: 'q', store: memory });
    const lying: Store = {
      async open(name) {
        const s = await memory.open(name);
        return { ...bindAll(s), read: async () => new Uint8Array(0) };
      },
    };
    const b = await Queue.open<number>({ name: 'q', store: lying });
    await a.pushMany([1, 2, 3]);
    await expect(b.size()).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('shorter than the store listed') });
    await a.close();
    await b.close();
  });
});

function bindAll(s: QueueStorage): QueueStorage {
  return { load: () => s.load(), token: () => s.token(), read: (i, f, t) => s.read(i, f, t), commit: (t, b) => s.commit(t, b), close: () => s.close() };
}
