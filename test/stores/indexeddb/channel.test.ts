import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { QueueChannel } from '../../../src/stores/indexeddb/channel.js';
import { FakeLockManager, type FakeLocks } from '../../support/fake-locks.js';
import { keepChannels } from './helpers.js';

// Node has BroadcastChannel: the handles below talk as tabs do, within this process.
let count = 0;
const fresh = () => {
  const name = `channel-test-${process.pid}-${count++}`;
  return name;
};

/** Every message on `name`, in order: what a handle posted, as any other context hears it. */
function overhear(name: string) {
  const channel = new BroadcastChannel(name);
  const heard: unknown[] = [];
  channel.onmessage = (event: MessageEvent) => heard.push(event.data);
  (channel as unknown as { unref(): void }).unref();
  return {
    heard,
    /**
     * Resolves once `handle` asked for the writer lock: its messages arrive in the order it posted them, so what it
     * posted before that ask has been heard by then.
     */
    async after(handle: QueueChannel): Promise<unknown[]> {
      const from = heard.length;
      handle.ask();
      await vi.waitFor(() => expect(heard.slice(from)).toContain('want'));
      return heard.slice(0, heard.lastIndexOf('want'));
    },
    close: () => channel.close(),
  };
}

const open: { close(): void }[] = [];
const channel = (name: string) => {
  const c = new QueueChannel(name);
  open.push(c);
  return c;
};
/** Two handles of one queue, `a` and `b`, and a listener for `b` to watch with. */
const handles = () => {
  const name = fresh();
  return { name, a: channel(name), b: channel(name), woken: vi.fn() };
};
/** A handle of a fresh queue that watches with `woken`. */
const watcher = () => {
  const name = fresh();
  const b = channel(name);
  const woken = vi.fn();
  b.watch(woken);
  return { name, woken };
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
afterEach(() => {
  open.splice(0).forEach((c) => c.close());
});

describe('QueueChannel', () => {
  it('posts no commit notice while no other handle watches', async () => {
    const name = fresh();
    const ear = overhear(name);
    const a = channel(name);
    a.committed();
    a.committed();
    expect(await ear.after(a)).toEqual(['hello']);
    ear.close();
  });

  it('tells a handle that watched before it opened (it asks who watches)', async () => {
    const { name, woken } = watcher();
    const a = channel(name);
    // Committed before a heard b answer: told once it hears (b may have looked before the commit).
    a.committed();
    await vi.waitFor(() => expect(woken).toHaveBeenCalled());
  });

  it('tells a handle that starts watching after a commit, and every commit from then on', async () => {
    const { a, b, woken } = handles();
    a.committed();
    b.watch(woken);
    await vi.waitFor(() => expect(woken).toHaveBeenCalledTimes(1));
    // Past the notices' spacing, so that the next commit is told at once.
    await sleep(20);
    a.committed();
    await vi.waitFor(() => expect(woken).toHaveBeenCalledTimes(2));
  });

  it('a listener watching twice is removed once per call, and hears no notice once removed', async () => {
    const { name, a, b, woken } = handles();
    const first = b.watch(woken);
    const second = b.watch(woken);
    first();
    first();
    a.committed();
    await vi.waitFor(() => expect(woken).toHaveBeenCalledTimes(1));
    second();
    await sleep(20);
    const ear = overhear(name);
    a.committed();
    await vi.waitFor(async () => expect(await ear.after(a)).toContain('commit'));
    // Heard here, and by b too by now (another receiver of the same post).
    await sleep(50);
    expect(woken).toHaveBeenCalledTimes(1);
    ear.close();
  });

  it('a handle that closes before it heard that another watches tells of its commits as it closes', async () => {
    const { name, a, b, woken } = handles();
    const ear = overhear(name);
    a.committed();
    // b may have looked before that commit; a closes before b's word that it watches reaches it.
    b.watch(woken);
    a.close();
    a.close();
    await vi.waitFor(() => expect(ear.heard).toContain('commit'));
    await vi.waitFor(() => expect(woken).toHaveBeenCalled());
    ear.close();
  });

  it('a watcher that hears no notice looks again once, a while after it said it watches', async () => {
    // As if a handle committed and died before it heard that this one watches: nobody will tell.
    const { woken } = watcher();
    await sleep(100);
    expect(woken).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(woken).toHaveBeenCalledTimes(1));
    await sleep(300);
    expect(woken).toHaveBeenCalledTimes(1);
  });

  it('a watcher told of a commit does not look again for nothing', async () => {
    const { a, b, woken } = handles();
    b.watch(woken);
    a.committed();
    await vi.waitFor(() => expect(woken).toHaveBeenCalledTimes(1));
    await sleep(300);
    expect(woken).toHaveBeenCalledTimes(1);
  });

  it('spaces commit notices while commits follow each other, and tells the last one', async () => {
    const { name, a, b, woken } = handles();
    b.watch(woken);
    const ear = overhear(name);
    // Once b was told of a commit, a knows it watches.
    a.committed();
    await vi.waitFor(() => expect(woken).toHaveBeenCalled());
    await sleep(20);
    const from = ear.heard.length;
    for (let i = 0; i < 100; i++) a.committed();
    await sleep(40);
    const notices = (await ear.after(a)).slice(from).filter((m) => m === 'commit');
    expect(notices).toHaveLength(2);
    ear.close();
  });
});

describe('a consumer waiting in one handle, pushes in another', () => {
  const handles: Queue<number>[] = [];
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((q) => q.close()));
  });
  // Stores that tell of commits are never polled: a notice not posted leaves the consumer waiting for good.
  for (const order of ['producer first', 'consumer first'] as const) {
    it(`wakes the consumer (${order}), every time`, async () => {
      const factory = new IDBFactory();
      const dbName = fresh();
      const openIn = async () => {
        const q = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ dbName, indexedDB: factory }) });
        handles.push(q);
        return q;
      };
      const producer = order === 'producer first' ? await openIn() : undefined;
      const consumer = await openIn();
      const got: number[] = [];
      const done = (async () => {
        for await (const lease of consumer.iterate({ max: 10 })) {
          got.push(...lease.entries.map((e) => e.value));
          await lease.ack();
          if (got.length === 30) return;
        }
      })();
      const p = producer ?? (await openIn());
      // Past the one look a watcher takes unbidden a while after it says it watches: from here only notices wake it.
      await sleep(300);
      for (let i = 0; i < 3; i++) {
        // Each after the consumer found the queue empty and waits.
        await sleep(30);
        await p.pushMany(Array.from({ length: 10 }, (_, k) => i * 10 + k));
      }
      await done;
      expect(got.sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, k) => k));
    });
  }
});

describe('a consumer waiting in one tab, pushes in a tab that dies', () => {
  // Taken before the test fakes the timers: the waits below are real time.
  const realTimeout = globalThis.setTimeout;
  const realSleep = (ms: number) => new Promise((resolve) => realTimeout(resolve, ms));
  /** Waits up to `ms` of real time for `got` to equal `values` (vi.waitFor would run the fake timers on). */
  const until = async (got: number[], values: number[], ms: number) => {
    for (let waited = 0; waited < ms && got.length < values.length; waited += 10) await realSleep(10);
    expect(got).toEqual(values);
  };
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('wakes the consumer for a push whose notice the dying tab had held back (spaced after the one before)', async () => {
    // Only the timers: fake-indexeddb and the lock manager keep running. The producer's spacing of its notices then
    // lasts until its tab dies, as in a background tab (whose timers run a second late at the soonest) closed within
    // a second of its second push.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const manager = new FakeLockManager();
    const factory = new IDBFactory();
    const dbName = fresh();
    const openIn = (tab: FakeLocks) => {
      vi.stubGlobal('navigator', { locks: tab });
      return Queue.open<number>({ name: 'q', store: new IndexedDbStore({ dbName, indexedDB: factory }) });
    };
    const consumer = await openIn(manager.context());
    const got: number[] = [];
    const consuming = (async () => {
      for await (const lease of consumer.iterate({ max: 10 })) {
        got.push(...lease.entries.map((e) => e.value));
        await lease.ack();
      }
    })();
    // The producer's tab: its BroadcastChannels are kept, to silence them when it dies.
    const channels = keepChannels();
    const tab = manager.context();
    const producer = await openIn(tab);
    vi.unstubAllGlobals();
    // The consumer's word that it watches has reached the producer, which tells of its commits from now on.
    await realSleep(50);
    await producer.push(1);
    await until(got, [1], 2_000);
    await realSleep(50);
    // Committed within the spacing of the notice of 1: told only once it ends. The tab dies first.
    await producer.push(2);
    for (const channel of channels) {
      channel.postMessage = () => undefined;
      channel.close();
    }
    tab.kill();
    await until(got, [1, 2], 2_000);
    await consumer.close();
    await consuming;
  });
});

describe('where there is no BroadcastChannel (Safari before 15.4)', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('a consumer waiting in one handle gets what another pushes: it polls, since no notice can come', async () => {
    vi.stubGlobal('BroadcastChannel', undefined);
    const factory = new IDBFactory();
    const openIn = () => Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }), pollMs: 50 });
    const consumer = await openIn();
    const producer = await openIn();
    const got: number[] = [];
    const consuming = (async () => {
      for await (const lease of consumer.iterate()) {
        got.push(...lease.entries.map((e) => e.value));
        await lease.ack();
      }
    })();
    // Long after the consumer found the queue empty and began to wait.
    await sleep(300);
    await producer.push(1);
    await vi.waitFor(() => expect(got).toEqual([1]), { timeout: 2_000 });
    await Promise.all([consumer.close(), producer.close()]);
    await consuming;
  });
});

describe('a queue left open in a Node process (fake-indexeddb)', () => {
  // Before, its channel was a MessagePort that kept the process alive for good, as FileStore's and MemoryStore's never do.
  it('keeps the process alive by nothing of its channel', async () => {
    const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    const before = ports();
    const q = await Queue.open<string>({ name: fresh(), store: new IndexedDbStore({ dbName: fresh() }) });
    await q.push('x');
    expect(ports()).toBe(before);
    await q.close();
  });
});
