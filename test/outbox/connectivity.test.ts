import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { MemoryStore, Outbox } from '../../src/index.js';
import { eventConnectivity, platformConnectivity } from '../../src/outbox/connectivity.js';

describe('platformConnectivity()', () => {
  it('is undefined in Node, which has no online events: sends decide there', () => {
    expect(platformConnectivity()).toBeUndefined();
  });
});

describe('eventConnectivity()', () => {
  it('reads navigator.onLine as a hint and reports online/offline events until unsubscribed', () => {
    const target = Object.assign(new EventTarget(), { navigator: { onLine: false } });
    const c = eventConnectivity(target);
    expect(c.online).toBe(false);
    const seen: boolean[] = [];
    const stop = c.subscribe((online) => seen.push(online));
    target.dispatchEvent(new Event('online'));
    target.dispatchEvent(new Event('offline'));
    stop();
    target.dispatchEvent(new Event('online'));
    expect(seen).toEqual([true, false]);
  });
});

describe('a connectivity of the user', () => {
  /** A MemoryStore that counts the storages opened on it and those closed again. */
  function countingStore() {
    const memory = new MemoryStore();
    const counts = { opened: 0, closed: 0 };
    const store: Store = {
      async open(name) {
        const storage = await memory.open(name);
        counts.opened++;
        return new Proxy(storage, {
          get: (target, key) => {
            if (key === 'close') return async () => (counts.closed++, target.close());
            const value = Reflect.get(target, key) as unknown;
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
    };
    return { store, counts };
  }

  it('whose subscribe gives no function to stop it is refused at open, and the queues opened for it are closed', async () => {
    const { store, counts } = countingStore();
    const connectivity = { online: true, subscribe: () => 'stop' as never };
    await expect(Outbox.open({ name: 'api', store, connectivity })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`connectivity.subscribe`') });
    expect(counts.closed).toBe(counts.opened);
  });

  it('once refused, or closed, hears nothing more: a hint then reaches no outbox half-built or gone', async () => {
    let listener: ((online: boolean) => void) | undefined;
    const refused = { online: true, subscribe: (l: (online: boolean) => void) => ((listener = l), 'stop' as never) };
    await expect(Outbox.open({ name: 'api', store: new MemoryStore(), connectivity: refused })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    listener!(false);
    listener!(true);
    // A subscribe that cannot stop its listener (it gives nothing back), called after the outbox closed.
    const stays = { online: true, subscribe: (l: (online: boolean) => void) => void (listener = l) as never };
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), connectivity: stays });
    await outbox.close();
    listener!(false);
    listener!(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
  });

  it('whose subscribe throws fails the open with its error, and the queues opened for it are closed', async () => {
    const { store, counts } = countingStore();
    const failure = new Error('no hints here');
    const connectivity = { online: true, subscribe: () => { throw failure; } };
    await expect(Outbox.open({ name: 'api', store, connectivity })).rejects.toBe(failure);
    expect(counts.opened).toBeGreaterThan(0);
    expect(counts.closed).toBe(counts.opened);
  });
});
