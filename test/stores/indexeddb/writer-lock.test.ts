import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import type { QueueStorage } from '../../../src/core/store.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { WriterLock } from '../../../src/stores/indexeddb/writer-lock.js';
import { FakeLockManager, type FakeLocks } from '../../support/fake-locks.js';
import { keepChannels } from './helpers.js';

// The writer lock, in Node: an in-process LockManager stands in for Web Locks (one `context()` per tab), and Node's
// BroadcastChannel carries the asks between handles as it does between tabs.

let manager: FakeLockManager;
let factory: IDBFactory;
beforeEach(() => {
  manager = new FakeLockManager();
  factory = new IDBFactory();
});
afterEach(() => vi.unstubAllGlobals());

/** A store as seen from one tab: handles opened through it take their locks in `tab`. */
function inTab(tab: FakeLocks = manager.context()): { tab: FakeLocks; open: <T>(name?: string) => Promise<Queue<T>> } {
  return {
    tab,
    open: <T>(name = 'q') => {
      vi.stubGlobal('navigator', { locks: tab });
      return Queue.open<T>({ name, store: new IndexedDbStore({ indexedDB: factory }) });
    },
  };
}

const writerHeld = () => [...manager.held.keys()].filter((name) => name.startsWith('sluice-writer:'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the transactions opened and the requests made in them while `fn` runs. */
async function counting(fn: () => Promise<void>): Promise<{ transactions: string[]; requests: string[] }> {
  const transactions: string[] = [];
  const requests: string[] = [];
  const transaction = IDBDatabase.prototype.transaction;
  const tx = vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
    transactions.push(`${[args[0]].flat().join('+')} ${args[1] ?? 'readonly'}`);
    return transaction.apply(this, args);
  });
  const spies = (['put', 'add', 'delete', 'get', 'getAll', 'openCursor', 'openKeyCursor'] as const).map((method) => {
    const original = IDBObjectStore.prototype[method] as (...args: unknown[]) => IDBRequest;
    return vi.spyOn(IDBObjectStore.prototype, method).mockImplementation(function (this: IDBObjectStore, ...args: unknown[]) {
      requests.push(`${method} ${this.name}`);
      return original.apply(this, args);
    } as never);
  });
  try {
    await fn();
  } finally {
    tx.mockRestore();
    for (const spy of spies) spy.mockRestore();
  }
  return { transactions, requests };
}
describe('with Web Locks', () => {
  it('a push appending to the tail is one put in one transaction, with nothing read', async () => {
    const q = await inTab().open<number>();
    await q.push(0);
    const seen = await counting(async () => {
      for (let i = 1; i <= 5; i++) await q.push(i);
    });
    expect(seen.transactions).toEqual(Array(5).fill('chunks readwrite'));
    expect(seen.requests).toEqual(Array(5).fill('put chunks'));
    // As do a take and an ack: one record appended to the metadata each.
    const taken = await counting(async () => void (await (await q.take(2))!.ack()));
    expect(taken.requests).toEqual(['put chunks', 'put chunks']);
    expect(await q.peek(10)).toEqual([2, 3, 4, 5]);
    await q.close();
  });

  it('the holder gives the writer lock back once it has committed nothing for a while', async () => {
    const q = await inTab().open<number>();
    await q.push(1);
    expect(writerHeld()).toHaveLength(1);
    await sleep(250);
    expect(writerHeld()).toEqual([]);
    await q.push(2);
    expect(await q.peek(5)).toEqual([1, 2]);
    await q.close();
    expect(writerHeld()).toEqual([]);
  });

  it('the holder gives it back after 100 ms idle on the monotonic clock, even when the wall clock is set back meanwhile', async () => {
    // Only the timers and clocks: fake-indexeddb and the lock manager keep running on their own.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      const lock = new WriterLock(manager.context(), 'sluice-writer:test', () => undefined);
      expect(lock.enter()).toBe(false);
      await lock.acquire();
      // A commit that failed (quota, a stale view): the lock is kept for the retry, and only going idle lets it go.
      lock.done(false);
      // NTP, or a machine resumed, sets the wall clock back an hour.
      vi.setSystemTime(Date.now() - 3_600_000);
      await vi.advanceTimersByTimeAsync(99);
      expect(lock.held).toBe(true);
      await vi.advanceTimersByTimeAsync(1);
      expect(lock.held).toBe(false);
      expect(writerHeld()).toEqual([]);
      await lock.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('another tab asking gets the lock as soon as the holder\'s commit ends, even while the holder keeps committing', async () => {
    const a = await inTab().open<number>();
    const b = await inTab().open<number>();
    let pushedByA = 0;
    const loop = (async () => {
      for (let i = 0; i < 300; i++) {
        await a.push(i);
        pushedByA++;
      }
    })();
    while (pushedByA < 10) await sleep(1);
    await b.push(1000);
    expect(pushedByA).toBeLessThan(300);
    await loop;
    const lease = await b.take(400);
    expect(lease!.entries.map((e) => e.value).sort((x, y) => x - y)).toEqual([...Array.from({ length: 300 }, (_, i) => i), 1000]);
    await lease!.ack();
    await a.close();
    await b.close();
  });

  it('two tabs pushing and draining at once count every item exactly once', async () => {
    const tabs = [inTab(), inTab()];
    const work = async (open: <T>() => Promise<Queue<T>>, from: number) => {
      const q = await open<number>();
      const got: number[] = [];
      const pushing = (async () => {
        for (let i = 0; i < 100; i += 10) {
          await Promise.all(Array.from({ length: 9 }, (_, j) => q.push(from + i + j)));
          await q.push(from + i + 9);
        }
      })();
      for (let idle = 0; idle < 20; ) {
        const lease = await q.take(7);
        if (lease) {
          got.push(...lease.entries.map((e) => e.value));
          await lease.ack();
          idle = 0;
        } else {
          idle++;
          await sleep(2);
        }
      }
      await pushing;
      await q.close();
      return got;
    };
    const [one, two] = await Promise.all([work(tabs[0]!.open, 0), work(tabs[1]!.open, 1000)]);
    const rest = await (await inTab().open<number>()).take(1000);
    const all = [...one, ...two, ...(rest?.entries.map((e) => e.value) ?? [])].sort((x, y) => x - y);
    expect(all).toEqual([...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 100 }, (_, i) => 1000 + i)]);
  });

  it('a holder whose lock is stolen (steal: true) holds it no longer: its next push checks what is stored, and keeps what another tab pushed', async () => {
    const channels = keepChannels();
    const a = await inTab().open<string>();
    const heardByA = [...channels];
    const b = await inTab().open<string>();
    await a.push('a1');
    // Another script takes the lock and lets it go at once: the platform tells `a` only by rejecting its request.
    expect(await manager.context().request('sluice-writer:sluice:q', { steal: true }, async () => 'stolen')).toBe('stolen');
    // `b` is granted the free lock and pushes before its ask reaches `a` (a message, slower than the grant).
    const hearing = heardByA.map((channel) => channel.onmessage);
    for (const channel of heardByA) channel.onmessage = () => undefined;
    await b.push('b1');
    heardByA.forEach((channel, i) => (channel.onmessage = hearing[i]!));
    await a.push('a2');
    expect(await (await inTab().open<string>()).peek(5)).toEqual(['a1', 'b1', 'a2']);
    await a.close();
    await b.close();
  });

  it('a write waiting for a holder that never lets go (a frozen tab) rejects ERR_LOCKED after blockedTimeoutMs; the next asks again', async () => {
    let thaw!: () => void;
    const frozen = manager.context();
    void frozen.request('sluice-writer:sluice:q', {}, () => new Promise<void>((resolve) => (thaw = resolve)));
    vi.stubGlobal('navigator', { locks: manager.context() });
    const q = await Queue.open<string>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory, blockedTimeoutMs: 0 }) });
    const error = await q.push('a').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_LOCKED', message: expect.stringContaining('does not let it go') });
    expect(await q.size()).toBe(0);
    thaw();
    await q.push('b');
    expect(await q.peek(5)).toEqual(['b']);
    await q.close();
  });

  it('blockedTimeoutMs: 0 (failing fast on a blocked upgrade) does not fail the writes of two live tabs taking turns with the lock', async () => {
    const open = () => {
      vi.stubGlobal('navigator', { locks: manager.context() });
      return Queue.open<string>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory, blockedTimeoutMs: 0 }) });
    };
    const a = await open();
    const b = await open();
    const failures: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      await a.push(`a${i}`).catch((e: { code?: string }) => failures.push(e.code));
      await b.push(`b${i}`).catch((e: { code?: string }) => failures.push(e.code));
    }
    await a.close();
    await b.close();
    expect(failures).toEqual([]);
  });

  it('a tab that dies holding the lock releases it: another commits, every push that resolved is there once, and its leases come back', async () => {
    const dying = inTab();
    const a = await dying.open<number>();
    await a.pushMany([1, 2, 3]);
    await a.take(2); // leased by the tab that dies, for 30 s
    const inFlight = a.push(4);
    dying.tab.kill();
    const b = await inTab().open<number>();
    await b.push(5);
    // The push in flight when the tab died either landed whole or not at all, never twice.
    const resolved = await Promise.race([inFlight.then(() => true), sleep(20).then(() => false)]);
    const lease = await b.take(10);
    const values = lease!.entries.map((e) => e.value);
    expect(values).toEqual(resolved ? [1, 2, 3, 4, 5] : expect.arrayContaining([1, 2, 3, 5]));
    expect(new Set(values).size).toBe(values.length);
    expect(lease!.entries.slice(0, 2).map((e) => e.attempts)).toEqual([2, 2]);
    await lease!.ack();
    await b.close();
  });
});

describe('owner locks', () => {
  it("another tab's peek, list and stats show a dead tab's leased items free at once, as its take does", async () => {
    const dying = inTab();
    const a = await dying.open<number>();
    await a.pushMany([1, 2, 3]);
    await a.take(2);
    const b = await inTab().open<number>();
    expect(await b.peek(5)).toEqual([3]);
    dying.tab.kill();
    expect(await b.peek(5)).toEqual([1, 2, 3]);
    expect((await b.list()).map((e) => e.state)).toEqual(['ready', 'ready', 'ready']);
    expect(await b.stats()).toMatchObject({ size: 3, leased: 0 });
    // Freed in the store too: a handle opened now sees the same.
    expect(await (await inTab().open<number>()).peek(5)).toEqual([1, 2, 3]);
    await b.close();
  });

  it('a consumer waiting for items leased to another tab wakes as soon as that tab dies, not when the leases run out', async () => {
    const dying = inTab();
    const a = await dying.open<number>();
    await a.pushMany([1, 2]);
    await a.take(2);
    const b = await inTab().open<number>();
    const got = (async () => {
      for await (const lease of b) {
        await lease.ack();
        return lease.entries.map((e) => [e.value, e.attempts]);
      }
      return [];
    })();
    await sleep(50);
    dying.tab.kill();
    expect(await Promise.race([got, sleep(2_000).then(() => 'still waiting')])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    await b.close();
  });
});

describe('the token', () => {
  it('is read from the database by a handle not holding the lock, and known without a read by the holder', async () => {
    const store = (tab: FakeLocks) => {
      vi.stubGlobal('navigator', { locks: tab });
      return new IndexedDbStore({ indexedDB: factory }).open('q');
    };
    const a: QueueStorage = await store(manager.context());
    const b: QueueStorage = await store(manager.context());
    const token = (await a.load()).token;
    const next = (await a.commit(token, { write: { segment: 0, offset: 0, bytes: Uint8Array.of(1) }, durability: 'relaxed' }))!;
    const held = await counting(async () => expect(await a.token()).toBe(next));
    expect(held.transactions).toEqual([]);
    const other = await counting(async () => expect(await b.token()).toBe(next));
    expect(other.transactions).toEqual(['heads+chunks readonly']);
    await a.close();
    await b.close();
  });
});
