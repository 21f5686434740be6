import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { FakeLockManager, type FakeLocks } from '../../support/fake-locks.js';
import { keepChannels } from './helpers.js';

// A page that goes into the back/forward cache and comes back. WebKit lets its Web Locks go while it is cached (the
// lock callbacks' promises are never told) and keeps its script's state: on return, the handles open in it must not
// take themselves for holders of the locks they had.

const realTimeout = globalThis.setTimeout;
let manager: FakeLockManager;
let factory: IDBFactory;
/** The page's window as far as 'pageshow' goes. */
let page: EventTarget;
beforeEach(() => {
  manager = new FakeLockManager();
  factory = new IDBFactory();
  page = new EventTarget();
  // Only the timers: fake-indexeddb and the lock manager keep running. A cached page runs none of its timers.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** The BroadcastChannels of the page that is cached: it hears nothing while it is. */
let channels: BroadcastChannel[];

async function openIn(tab: FakeLocks, window?: EventTarget): Promise<Queue<number>> {
  vi.stubGlobal('navigator', { locks: tab });
  if (window) {
    vi.stubGlobal('onpageshow', null);
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window));
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window));
    channels = keepChannels();
  }
  // The globals are read as the queue's storage opens.
  const queue = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
  vi.unstubAllGlobals();
  return queue;
}

/** The page is cached (its locks go) and, after `meanwhile` ran in another tab, shown again. */
async function cachedWhile(tab: FakeLocks, meanwhile: () => Promise<void>): Promise<void> {
  tab.evict();
  const hearing = channels.map((channel) => channel.onmessage);
  for (const channel of channels) channel.onmessage = () => undefined;
  await meanwhile();
  // Past the delivery of what the other tab posted meanwhile, which the cached page never hears.
  await new Promise((resolve) => realTimeout(resolve, 20));
  channels.forEach((channel, i) => (channel.onmessage = hearing[i]!));
  page.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
}

describe('a page back from the back/forward cache', () => {
  it('commits only once it holds the writer lock again: a push keeps what another tab pushed meanwhile', async () => {
    const tab = manager.context();
    const a = await openIn(tab, page);
    // Holding the writer lock, kept for a while after the push, when the page goes into the cache.
    await a.push(1);
    await cachedWhile(tab, async () => {
      const b = await openIn(manager.context());
      await b.push(2);
      await b.close();
    });
    await a.push(3);
    const c = await openIn(manager.context());
    expect(await c.peek(10)).toEqual([1, 2, 3]);
    await Promise.all([a.close(), c.close()]);
  });

  it('where the platform kept its locks after all, lets the writer lock go: another tab commits', async () => {
    const a = await openIn(manager.context(), page);
    await a.push(1);
    page.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
    const b = await openIn(manager.context());
    const pushed = b.push(2).then(() => 'pushed');
    expect(await Promise.race([pushed, new Promise((resolve) => realTimeout(resolve, 1_000, 'still waiting for the lock'))])).toBe('pushed');
    expect(await b.peek(10)).toEqual([1, 2]);
    await Promise.all([a.close(), b.close()]);
  });

  it("tells of its pushes a consumer that began to wait in another tab while it was cached", async () => {
    const tab = manager.context();
    const a = await openIn(tab, page);
    const got: number[] = [];
    let consuming: Promise<void> | undefined;
    const b = await openIn(manager.context());
    await cachedWhile(tab, async () => {
      consuming = (async () => {
        for await (const lease of b.iterate()) {
          got.push(...lease.entries.map((e) => e.value));
          await lease.ack();
        }
      })();
      // The consumer found nothing and waits; what it said to the other tabs went unheard by the cached page.
      await new Promise((resolve) => realTimeout(resolve, 50));
    });
    await a.push(1);
    for (let waited = 0; waited < 2_000 && got.length === 0; waited += 10) await new Promise((resolve) => realTimeout(resolve, 10));
    expect(got).toEqual([1]);
    await Promise.all([a.close(), b.close()]);
    await consuming;
  });

  it('holds its owner lock again: an item it takes is not handed to another tab while its lease holds', async () => {
    const tab = manager.context();
    const a = await openIn(tab, page);
    await a.pushMany([1, 2]);
    await cachedWhile(tab, async () => undefined);
    const lease = await a.take(1);
    expect(lease?.entries.map((e) => e.value)).toEqual([1]);
    const b = await openIn(manager.context());
    expect((await b.take(10))?.entries.map((e) => e.value)).toEqual([2]);
    await lease!.ack();
    await Promise.all([a.close(), b.close()]);
  });
});
