import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from '../../src/outbox/outbox.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FakeLockManager, type FakeLocks as TabLocks } from '../support/fake-locks.js';
import { failingCommit, next, rig, type Rig } from './helpers.js';

/** A LockManager with exclusive locks and `ifAvailable`, enough for one process's tests. */
class FakeLocks {
  readonly #held = new Set<string>();
  readonly #waiting = new Map<string, (() => void)[]>();

  async request(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => unknown): Promise<unknown> {
    if (this.#held.has(name)) {
      if (options.ifAvailable) return callback(null);
      await new Promise<void>((resolve) => {
        if (!this.#waiting.has(name)) this.#waiting.set(name, []);
        this.#waiting.get(name)!.push(resolve);
      });
    }
    this.#held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.#held.delete(name);
      this.#waiting.get(name)?.shift()?.();
    }
  }
}

let r: Rig;
beforeEach(async () => {
  vi.stubGlobal('navigator', { locks: new FakeLocks() });
  r = await rig();
});
afterEach(async () => {
  await r.teardown();
  vi.unstubAllGlobals();
});

describe('several tabs (Web Locks)', () => {
  it('lets exactly one handle deliver; another takes over when it closes', async () => {
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      r.outbox.start();
      // A pass of the running handle takes the lock; then it is told offline so it sends nothing itself.
      await r.outbox.flush();
      r.outbox.setOnline(false);
      await other.enqueue({ url: '/x' });
      expect(await other.flush()).toMatchObject({ sent: 0, remaining: 1 });
      expect(r.server.received).toHaveLength(0);
      other.start();
      const sent = next<{ remote?: boolean }>(other, 'sent');
      await r.outbox.close();
      // Closed: the lock passes to the other handle, which delivers.
      expect(await sent).not.toHaveProperty('remote');
      expect(r.server.delivered.map((x) => x.path)).toEqual(['/x']);
    } finally {
      await other.close();
    }
  });
});

describe('handles sharing one outbox', () => {
  // A handle's flush after another handle enqueued (a page enqueues, the service worker delivers) sends both.
  it('.flush() sends a task another handle enqueued since this handle last committed', async () => {
    await r.outbox.enqueue({ url: '/own' });
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    await other.enqueue({ url: '/other' });
    await other.close();
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
  });
});

describe('a page back from the back/forward cache', () => {
  // WebKit lets a cached page's Web Locks go (their callbacks never settle) and keeps its script as it was.
  it('asks for the delivery lock again: while another tab holds it, the page delivers nothing; after, it does', async () => {
    const manager = new FakeLockManager();
    const [tabA, tabB] = [manager.context(), manager.context()];
    const page = Object.assign(new EventTarget(), { onpageshow: null, onpagehide: null });
    const open = (locks: TabLocks, extra: Partial<Parameters<typeof Outbox.open>[0]> = {}) => {
      vi.stubGlobal('navigator', { locks });
      return Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url, ...extra });
    };
    const a = await open(tabA, { page });
    const b = await open(tabB);
    try {
      a.start();
      await a.flush();
      // A is cached: its lock goes to B, which holds it (told offline, so that it sends nothing itself).
      tabA.evict();
      b.start();
      await b.flush();
      b.setOnline(false);
      page.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
      await a.enqueue({ url: '/x' });
      expect(await a.flush()).toMatchObject({ sent: 0, remaining: 1 });
      expect(r.server.received).toHaveLength(0);
      // B goes: A, running and queued for the lock again, takes over.
      const sent = next(a, 'sent');
      await b.close();
      await sent;
      expect(r.server.delivered.map((x) => x.path)).toEqual(['/x']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('a handle whose delivery fails lets the delivery lock go (it held it for as long as it lived)', () => {
  const manager = new FakeLockManager();
  const open = (locks: TabLocks, store: MemoryStore) => {
    vi.stubGlobal('navigator', { locks });
    return Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url });
  };
  const delivered = async () => {
    for (let i = 0; i < 200 && r.server.delivered.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    return r.server.delivered.map((x) => x.path);
  };

  it('a flush that rejects (its store failed): the next handle delivers at once', async () => {
    const { store, arm } = failingCommit('api');
    const [a, b] = [await open(manager.context(), store), await open(manager.context(), store)];
    try {
      await a.enqueue({ url: '/x' });
      arm();
      await expect(a.flush()).rejects.toThrow('the disk is gone');
      expect(await b.flush()).toMatchObject({ sent: 1, remaining: 0 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a running handle whose passes fail (its database deleted under it): another running handle takes over', async () => {
    const store = new MemoryStore();
    const openStorage = store.open.bind(store);
    let broken = true;
    store.open = async (name) => {
      const storage = await openStorage(name);
      if (broken && name === 'api') storage.commit = () => Promise.reject(new Error('the database is gone'));
      return storage;
    };
    const a = await open(manager.context(), store);
    broken = false;
    const b = await open(manager.context(), store);
    const errors: unknown[] = [];
    a.addEventListener('error', (e) => errors.push(e.detail.error));
    try {
      await b.enqueue({ url: '/x' });
      a.start();
      for (let i = 0; i < 200 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      b.start();
      expect(await delivered()).toEqual(['/x']);
      expect(errors[0]).toMatchObject({ message: expect.stringContaining('the database is gone') });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('a running handle that holds the lock, idle, when its store goes (its database deleted under it)', () => {
  it('lets the lock go once it fails to read what another handle stored: that one delivers', async () => {
    const manager = new FakeLockManager();
    const store = new MemoryStore();
    const openStorage = store.open.bind(store);
    let broken = false;
    let opens = 0;
    store.open = async (name) => {
      const storage = await openStorage(name);
      // The first handle's queues (opened first) break when told.
      if (opens++ < 2) for (const method of ['load', 'commit'] as const) {
        const real = storage[method].bind(storage) as (...args: unknown[]) => Promise<never>;
        (storage as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => (broken ? Promise.reject(new Error('the database is gone')) : real(...args));
      }
      return storage;
    };
    vi.stubGlobal('navigator', { locks: manager.context() });
    const a = await Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url });
    vi.stubGlobal('navigator', { locks: manager.context() });
    const b = await Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url });
    a.addEventListener('error', () => undefined);
    try {
      a.start();
      await a.flush();
      b.start();
      broken = true;
      await b.enqueue({ url: '/x' });
      for (let i = 0; i < 200 && r.server.delivered.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(r.server.delivered.map((x) => x.path)).toEqual(['/x']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('outboxes of the same name on different stores (two databases, two directories, two MemoryStores)', () => {
  it('neither takes the other\'s delivery turn nor hears its news: each delivers its own tasks', async () => {
    const store = new MemoryStore();
    const open = () => Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url });
    const [mine, elsewhere] = [await open(), await Outbox.open({ name: 'api', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url })];
    try {
      // The same entry ids in both stores: what one handle relays of its own must not reach the other's index.
      const gone = await elsewhere.enqueue({ url: '/elsewhere' });
      await mine.enqueue({ url: '/mine' });
      expect(await elsewhere.remove([gone])).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // The one elsewhere holds the delivery lock while it runs: this one delivers all the same.
      elsewhere.start();
      await elsewhere.flush();
      expect(await mine.flush()).toMatchObject({ sent: 1, remaining: 0 });
      expect(r.server.delivered.map((x) => x.path)).toEqual(['/mine']);
    } finally {
      await Promise.all([mine.close(), elsewhere.close()]);
    }
  });
});
