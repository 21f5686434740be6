import { Queue } from '../../src/index.js';
import { IndexedDbStore } from '../../src/indexeddb.js';
import type { StoreHarness } from '../conformance/harness.js';
import { handlesConformance, partitionedHandlesConformance } from '../conformance/handles-suite.js';
import { modelConformance } from '../conformance/model-suite.js';
import { queueConformance } from '../conformance/queue-suite.js';
import { blobConformance } from '../conformance/blob-suite.js';
import { storageConformance } from '../conformance/storage-suite.js';
import { t } from './mocha.js';

let n = 0;
// Real IndexedDB (web-test-runner runs this file in each engine): a fresh database per test, each `open` a new connection to it (as another tab has).
const indexedDb: StoreHarness = {
  async setup() {
    const dbName = `sluice-browser-${Date.now()}-${n++}`;
    return {
      open: () => new IndexedDbStore({ dbName }),
      // The store's database, and the one beside it that holds its blobs.
      teardown: async () => {
        for (const name of [dbName, `${dbName}.blobs`]) {
          await new Promise<void>((resolve) => {
            const request = indexedDB.deleteDatabase(name);
            request.onsuccess = request.onerror = request.onblocked = () => resolve();
          });
        }
      },
    };
  },
};

storageConformance(t, 'IndexedDbStore in a real browser', indexedDb);
blobConformance(t, 'IndexedDbStore in a real browser', indexedDb);
queueConformance(t, 'IndexedDbStore in a real browser', indexedDb);
modelConformance(t, 'IndexedDbStore in a real browser', indexedDb);
handlesConformance(t, 'IndexedDbStore in a real browser', indexedDb);
partitionedHandlesConformance(t, 'IndexedDbStore in a real browser', indexedDb);

t.describe('the browser entry', () => {
  t.it('Queue.open without a store keeps the queue in IndexedDB (database "sluice")', async () => {
    const { Queue } = await import('../../src/index.browser.js');
    const q = await Queue.open<number>({ name: `default-${Date.now()}` });
    await q.push(7);
    await q.close();
    const again = await Queue.open<number>({ name: q.name });
    t.expect(await again.peek()).toEqual([7]);
    await again.clear();
    await again.close();
  });
});

t.describe('IndexedDbStore in a real browser: tabs', () => {
  const open = (dbName: string) => new IndexedDbStore({ dbName }).open('q');

  t.it('without Web Locks (browsers before 2022), two tabs pushing in turn: every resolved push is kept (a stale commit is refused, not written)', async () => {
    const dbName = `checked-${Date.now()}`;
    // Shadowed while the stores are made, which look for Web Locks then.
    Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true });
    let stores: IndexedDbStore[];
    try {
      stores = [new IndexedDbStore({ dbName }), new IndexedDbStore({ dbName })];
    } finally {
      delete (navigator as { locks?: unknown }).locks;
    }
    const [a, b] = [await Queue.open<string>({ name: 'q', store: stores[0]! }), await Queue.open<string>({ name: 'q', store: stores[1]! })];
    await a.push('a1');
    await b.push('b1');
    await a.push('a2');
    const fresh = await Queue.open<string>({ name: 'q', store: new IndexedDbStore({ dbName }) });
    t.expect(await fresh.peek(10)).toEqual(['a1', 'b1', 'a2']);
    for (const q of [a, b, fresh]) await q.close();
  });

  t.it('.isGone(owner) is false while the handle lives and true once it closed (Web Locks)', async () => {
    const dbName = `owners-${Date.now()}`;
    const [a, b] = [await open(dbName), await open(dbName)];
    t.expect(a.owner).toBeTruthy();
    // The lock is asked for when the handle opens; give the request a turn to be granted.
    await navigator.locks.query();
    t.expect(await b.isGone!(a.owner!)).toBe(false);
    await a.close();
    await navigator.locks.query();
    t.expect(await b.isGone!(a.owner!)).toBe(true);
    await b.close();
  });

  t.it('a writer lock stolen from its holder (steal: true) loses no resolved push and leaves nothing corrupt', async () => {
    const dbName = `steal-${Date.now()}`;
    // Two handles, as two tabs have, each pushing in a loop while another script steals the lock once.
    const [a, b] = [await Queue.open<string>({ name: 'q', store: new IndexedDbStore({ dbName }) }), await Queue.open<string>({ name: 'q', store: new IndexedDbStore({ dbName }) })];
    const pushed: string[] = [];
    const pushing = (q: Queue<string>, who: string) =>
      (async () => {
        for (let i = 0; i < 150; i++) {
          await q.push(`${who}${i}`);
          pushed.push(`${who}${i}`);
          if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
    const running = Promise.all([pushing(a, 'a'), pushing(b, 'b')]);
    // Mid-run: one handle holds the lock, and the other waits for it or asks for it.
    while (pushed.length < 60) await new Promise((resolve) => setTimeout(resolve, 1));
    t.expect(await navigator.locks.request(`sluice-writer:${dbName}:q`, { steal: true }, async () => 'stolen')).toBe('stolen');
    t.expect(pushed.length).toBeLessThan(250);
    await running;
    await a.close();
    await b.close();
    const c = await Queue.open<string>({ name: 'q', store: new IndexedDbStore({ dbName }) });
    t.expect((await c.peek(1000)).sort()).toEqual([...pushed].sort());
    await c.close();
    indexedDB.deleteDatabase(dbName);
  });

  t.it('.watch() hears another handle commit (BroadcastChannel)', async () => {
    const dbName = `watch-${Date.now()}`;
    const [a, b] = [await open(dbName), await open(dbName)];
    let wake = () => {};
    b.watch!(() => wake());
    // Past the one look a watcher takes unbidden a while after it says it watches: from here only a notice wakes it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const heard = new Promise<void>((resolve) => (wake = resolve));
    await a.commit((await a.load()).token, { meta: new Uint8Array([1]), durability: 'relaxed' });
    await heard;
    t.expect((await b.load()).meta).toEqual(new Uint8Array([1]));
    await a.close();
    await b.close();
  });

  t.it('another tab upgrading the database is not blocked by an open queue', async () => {
    const dbName = `upgrade-${Date.now()}`;
    const s = await open(dbName);
    await s.commit((await s.load()).token, { meta: new Uint8Array([1]), durability: 'strict' });
    const version = await new Promise<number>((resolve, reject) => {
      const request = indexedDB.open(dbName, 1000);
      request.onblocked = () => reject(new Error('blocked by the open queue'));
      request.onerror = () => reject(request.error);
      request.onsuccess = () => {
        request.result.close();
        resolve(request.result.version);
      };
    });
    t.expect(version).toBe(1000);
    await s.close();
    indexedDB.deleteDatabase(dbName);
  });

  t.it('another tab deleting the database: this handle rejects ERR_NOT_FOUND from then on, and nothing is made again', async () => {
    const dbName = `deleted-${Date.now()}`;
    const s = await open(dbName);
    const token = await s.commit((await s.load()).token, { write: { segment: 0, offset: 0, bytes: new Uint8Array([1]) }, durability: 'relaxed' });
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(dbName);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('blocked by the open queue'));
    });
    await t.expect(s.commit(token!, { write: { segment: 0, offset: 1, bytes: new Uint8Array([2]) }, durability: 'relaxed' })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await t.expect(s.load()).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    const names = (await indexedDB.databases?.())?.map((d) => d.name);
    if (names) t.expect(names).not.toContain(dbName);
    await s.close();
  });

  t.it("opening blocked by another tab that keeps an old version open: 'blocked', then ERR_LOCKED after blockedTimeoutMs", async () => {
    const dbName = `blocked-${Date.now()}`;
    // The other tab: version 1 of the layout, and no versionchange handler, so it never closes when asked.
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore('heads').createIndex('queue', 'queue', { unique: true });
        for (const name of ['meta', 'segments', 'chunks', 'quarantine']) request.result.createObjectStore(name);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const store = new IndexedDbStore({ dbName, blockedTimeoutMs: 300 });
    const events: unknown[] = [];
    store.addEventListener('blocked', (event) => events.push(event.detail));
    await t.expect(store.open('q')).rejects.toMatchObject({ code: 'ERR_LOCKED' });
    t.expect(events).toEqual([{ dbName, version: 2, oldVersion: 1 }]);
    old.close();
    const q = await store.open('q');
    await q.close();
    indexedDB.deleteDatabase(dbName);
  });
});

t.describe('IndexedDbStore.exists() in a real browser', () => {
  t.it('makes no database to answer; knows a queue from when any store opens it, empty, several at once', async () => {
    const dbName = `exists-${Date.now()}`;
    const store = new IndexedDbStore({ dbName });
    t.expect(await store.exists('q')).toBe(false);
    const names = async () => (await indexedDB.databases()).map((d) => d.name);
    t.expect(await names()).not.toContain(dbName);
    // Three tabs opening the same new queue at once: each open succeeds.
    const opened = await Promise.all([0, 1, 2].map(() => new IndexedDbStore({ dbName }).open('q')));
    t.expect(await store.exists('q')).toBe(true);
    t.expect(await store.exists('q.dead')).toBe(false);
    await Promise.all(opened.map((s) => s.close()));
    t.expect(await new IndexedDbStore({ dbName }).exists('q')).toBe(true);
    indexedDB.deleteDatabase(dbName);
  });
});
