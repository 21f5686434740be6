import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, vi } from 'vitest';
import { Queue, SluiceError } from '../../../src/index.js';
import { IndexedDbStore, type BlockedDetail } from '../../../src/indexeddb.js';
import { VERSION } from '../../../src/stores/indexeddb/schema.js';
import { request } from './helpers.js';

describe('another tab upgrading the database', () => {
  it('is not blocked: this connection closes, and its calls say why (ERR_INCOMPATIBLE_STORE)', async () => {
    const factory = new IDBFactory();
    const q = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
    await q.push(1);
    const upgrading = factory.open('sluice', VERSION + 1);
    let blocked = false;
    upgrading.onblocked = () => (blocked = true);
    const db = await request(upgrading);
    expect(blocked).toBe(false);
    expect(db.version).toBe(VERSION + 1);
    db.close();
    // This older code cannot use the newer database: it says so instead of hanging or writing.
    await expect(q.push(2)).rejects.toMatchObject({ code: 'ERR_INCOMPATIBLE_STORE', message: expect.stringContaining(`version ${VERSION + 1}`) });
    await expect(Queue.open({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) })).rejects.toMatchObject({ code: 'ERR_INCOMPATIBLE_STORE' });
    await q.close();
  });
});

describe('another tab deleting the database', () => {
  it('is not blocked; this handle rejects ERR_NOT_FOUND from then on, and a queue opened again starts empty', async () => {
    const factory = new IDBFactory();
    const store = new IndexedDbStore({ indexedDB: factory });
    const q = await Queue.open<number>({ name: 'q', store });
    await q.push(1);
    const deleting = factory.deleteDatabase('sluice');
    let blocked = false;
    deleting.onblocked = () => (blocked = true);
    await request(deleting);
    expect(blocked).toBe(false);
    const error = await q.push(2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringMatching(/"sluice" was deleted.*gone/) });
    await expect(q.peek(10)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    // Nothing was made again behind the application's back.
    expect(await factory.databases()).toEqual([]);
    await q.close();
    const again = await Queue.open<number>({ name: 'q', store });
    expect(await again.size()).toBe(0);
    await again.push(3);
    expect(await again.peek(10)).toEqual([3]);
    await again.close();
  });

  it('wakes a consumer waiting for pushes, whose iteration then rejects with why', async () => {
    const factory = new IDBFactory();
    const q = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
    const waiting = (async () => {
      for await (const lease of q) await lease.ack();
    })().catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await request(factory.deleteDatabase('sluice'));
    expect(await waiting).toMatchObject({ code: 'ERR_NOT_FOUND' });
    await q.close();
  });
});

describe('opening blocked by another tab', () => {
  /** Another tab holding database "sluice" open at version 1, which never closes it when asked to. */
  async function stubbornTab(factory: IDBFactory): Promise<IDBDatabase> {
    const open = factory.open('sluice', 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore('heads').createIndex('queue', 'queue', { unique: true });
      for (const name of ['meta', 'segments', 'chunks', 'quarantine']) open.result.createObjectStore(name);
    };
    const db = await request(open);
    db.onversionchange = () => undefined;
    return db;
  }

  it("emits 'blocked', waits, and rejects ERR_LOCKED after blockedTimeoutMs; the next open goes through once the tab closes", async () => {
    const factory = new IDBFactory();
    const old = await stubbornTab(factory);
    const store = new IndexedDbStore({ indexedDB: factory, blockedTimeoutMs: 50 });
    const events: BlockedDetail[] = [];
    store.addEventListener('blocked', (event) => events.push(event.detail));
    const started = Date.now();
    await expect(store.open('q')).rejects.toMatchObject({ code: 'ERR_LOCKED', message: expect.stringMatching(/version 1 .*50 ms \(blockedTimeoutMs\)/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(events).toEqual([{ dbName: 'sluice', version: VERSION, oldVersion: 1 }]);
    old.close();
    const q = await Queue.open<number>({ name: 'q', store });
    await q.push(1);
    expect(await q.peek()).toEqual([1]);
    await q.close();
  });

  it('an upgrade that begins before blockedTimeoutMs is out is not cut short by it: the open waits for the upgrade and succeeds', async () => {
    const factory = new IDBFactory();
    const old = await stubbornTab(factory);
    // Once the upgrade has begun, the clock jumps far past blockedTimeoutMs before the upgrade's transaction can end (a
    // long migration, a slow disk): only IndexedDB tells when the upgrade is over.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let upgrading = false;
      const watched = new Proxy(factory, {
        get(target, key) {
          if (key === 'open') {
            return (...args: Parameters<IDBFactory['open']>) => {
              const r = target.open(...args);
              r.addEventListener('upgradeneeded', () => {
                upgrading = true;
                queueMicrotask(() => vi.advanceTimersByTime(60_000));
              });
              return r;
            };
          }
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const store = new IndexedDbStore({ indexedDB: watched, blockedTimeoutMs: 50 });
      const blocked = new Promise<void>((resolve) => store.addEventListener('blocked', () => resolve()));
      const opening = store.open('q');
      await blocked;
      // The other tab closes in time (10 ms of the 50 ms).
      vi.advanceTimersByTime(10);
      old.close();
      const storage = await opening;
      expect(upgrading).toBe(true);
      const { token } = await storage.load();
      expect(await storage.commit(token, { write: { segment: 0, offset: 0, bytes: Uint8Array.of(1) }, durability: 'relaxed' })).toEqual(expect.any(String));
      await storage.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('an open that gave up (ERR_LOCKED) does not upgrade the database when the other tab closes later', async () => {
    const factory = new IDBFactory();
    const old = await stubbornTab(factory);
    const store = new IndexedDbStore({ indexedDB: factory, blockedTimeoutMs: 10 });
    await expect(store.open('q')).rejects.toMatchObject({ code: 'ERR_LOCKED' });
    old.close();
    // The request given up on is still queued behind the other tab: it runs now, and must change nothing.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await factory.databases()).find((d) => d.name === 'sluice')?.version).toBe(1);
  });

  it('with blockedTimeoutMs: Infinity, waits as long as the other tab keeps it', async () => {
    const factory = new IDBFactory();
    const old = await stubbornTab(factory);
    const store = new IndexedDbStore({ indexedDB: factory, blockedTimeoutMs: Infinity });
    const blocked = new Promise<void>((resolve) => store.addEventListener('blocked', () => resolve()));
    const opening = store.open('q');
    await blocked;
    await new Promise((resolve) => setTimeout(resolve, 30));
    old.close();
    await (await opening).close();
  });

  it('{ blockedTimeoutMs } is checked: an integer from 0 to 2^31 - 1 (what a timer holds), or Infinity', () => {
    expect(() => new IndexedDbStore({ blockedTimeoutMs: -1 })).toThrow(/Expected `blockedTimeoutMs` to be an integer from 0 to 2147483647 \(or Infinity\), got -1/);
    expect(() => new IndexedDbStore({ blockedTimeoutMs: '5' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    // A longer timer would fire at once: the open would give up as soon as it was blocked.
    expect(() => new IndexedDbStore({ blockedTimeoutMs: 2 ** 31 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('got 2147483648') }));
    expect(new IndexedDbStore({ blockedTimeoutMs: 2 ** 31 - 1 })).toBeInstanceOf(IndexedDbStore);
    expect(new IndexedDbStore({ blockedTimeoutMs: 0 })).toBeInstanceOf(IndexedDbStore);
  });
});

describe('an open that the platform refuses at once', () => {
  it('a SecurityError thrown by indexedDB.open (an opaque origin, storage denied) rejects as ERR_STORAGE, with it as cause', async () => {
    const denied = new DOMException('Access to the IndexedDB API is denied in this context.', 'SecurityError');
    const factory = { open: () => { throw denied; } } as unknown as IDBFactory;
    const store = new IndexedDbStore({ indexedDB: factory });
    const error = await Queue.open({ name: 'q', store }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/Cannot open the IndexedDB database "sluice".*SecurityError/), cause: denied });
    // Blob calls too (they open a database of their own).
    const blobs = new IndexedDbStore({ indexedDB: factory });
    await expect(blobs.open('q')).rejects.toMatchObject({ code: 'ERR_STORAGE' });
  });
});

describe('connections', () => {
  /** A factory that remembers every connection it opened. */
  function counted(): { factory: IDBFactory; open: () => string[] } {
    const inner = new IDBFactory();
    const opened: IDBDatabase[] = [];
    const factory = new Proxy(inner, {
      get(target, key) {
        if (key === 'open') {
          return (...args: Parameters<IDBFactory['open']>) => {
            const r = target.open(...args);
            r.addEventListener('success', () => opened.push(r.result));
            return r;
          };
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    // A closed connection refuses to start a transaction (InvalidStateError).
    const isOpen = (db: IDBDatabase) => {
      try {
        db.transaction([...db.objectStoreNames], 'readonly');
        return true;
      } catch {
        return false;
      }
    };
    return { factory, open: () => opened.filter(isOpen).map((db) => db.name) };
  }

  it('are closed once every queue opened on the store has closed, and opened again when the next one opens', async () => {
    const { factory, open } = counted();
    const store = new IndexedDbStore({ indexedDB: factory });
    const a = await Queue.open<number>({ name: 'a', store });
    const b = await Queue.open<number>({ name: 'b', store });
    await a.push(1);
    await a.blobs!.write('k', 0, Uint8Array.of(1));
    expect(open().sort()).toEqual(['sluice', 'sluice.blobs']);
    await a.close();
    // `b` still uses them.
    expect(open().sort()).toEqual(['sluice', 'sluice.blobs']);
    await b.push(2);
    await b.close();
    expect(open()).toEqual([]);
    for (let i = 0; i < 3; i++) {
      await using q = await Queue.open<number>({ name: 'a', store });
      await q.blobs!.keys();
      expect(await q.peek(5)).toEqual([1]);
    }
    expect(open()).toEqual([]);
  });

  it("a blob call made after its queue's storage closed works, and leaves no connection open", async () => {
    const { factory, open } = counted();
    const storage = await new IndexedDbStore({ indexedDB: factory }).open('q');
    const blobs = storage.blobs!;
    await blobs.write('k', 0, Uint8Array.of(5), 'relaxed');
    await storage.close();
    expect(open()).toEqual([]);
    expect(await blobs.read('k', 0, 1)).toEqual(Uint8Array.of(5));
    expect(open()).toEqual([]);
  });

  it('a queue opening while the last other one closes gets a connection that stays open', async () => {
    const { factory, open } = counted();
    const store = new IndexedDbStore({ indexedDB: factory });
    const a = await store.open('a');
    // Closed in the same turn as the next opens: the connection must not be closed under the one opening.
    const closing = a.close();
    const b = await store.open('b');
    await closing;
    expect(open()).toEqual(['sluice']);
    const { token } = await b.load();
    expect(await b.commit(token, { write: { segment: 0, offset: 0, bytes: Uint8Array.of(1) }, durability: 'relaxed' })).toEqual(expect.any(String));
    await b.close();
    expect(open()).toEqual([]);
  });

  it("the browser entry's default store (`Queue.open({ name })`, `Outbox.open()`) leaves none open once closed", async () => {
    const { factory, open } = counted();
    vi.stubGlobal('indexedDB', factory);
    try {
      const { Queue: BrowserQueue, Outbox } = await import('../../../src/index.browser.js');
      const a = await BrowserQueue.open<number>({ name: 'a' });
      const b = await BrowserQueue.open<number>({ name: 'b' });
      await a.push(1);
      await b.push(2);
      // One store for the realm: one connection however many queues are open.
      expect(open()).toEqual(['sluice']);
      await a.close();
      await b.close();
      expect(open()).toEqual([]);
      for (let i = 0; i < 3; i++) {
        await using q = await BrowserQueue.open<number>({ name: 'a' });
        await q.push(i);
        await q.blobs!.keys();
      }
      const outbox = await Outbox.open({ name: 'api', fetch: () => Promise.resolve(new Response(null, { status: 204 })) });
      await outbox.close();
      expect(open()).toEqual([]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('a factory passed without the globals IndexedDB comes with (Node, fake-indexeddb not imported as /auto)', () => {
  it('fails the open with ERR_STORAGE saying what to import, not a ReferenceError from the first read', async () => {
    const KeyRange = globalThis.IDBKeyRange;
    (globalThis as { IDBKeyRange?: unknown }).IDBKeyRange = undefined;
    try {
      const opening = Queue.open({ name: 'q', store: new IndexedDbStore({ indexedDB: new IDBFactory() }) });
      await expect(opening).rejects.toSatisfy((e) => e instanceof SluiceError && e.code === 'ERR_STORAGE' && e.message.includes("import 'fake-indexeddb/auto'"));
    } finally {
      globalThis.IDBKeyRange = KeyRange;
    }
  });
});

describe('the browser closing the database itself mid-commit (site data cleared, Clear-Site-Data on a logout)', () => {
  it("the call waiting on a transaction it never settles rejects ERR_STORAGE, close() settles, and the queue's lock is let go", async () => {
    // Chromium and Firefox leave a readwrite transaction begun around a forced close without `complete` or `abort`:
    // the push waited for good, holding the queue's writer lock, and every handle on the queue, in every tab, hung.
    const factory = new IDBFactory();
    const open = factory.open.bind(factory);
    let db: IDBDatabase | undefined;
    let unsettled = false;
    factory.open = (name: string, version?: number) => {
      const request = open(name, version);
      request.addEventListener('success', () => {
        const connection = (db = request.result);
        const transaction = connection.transaction.bind(connection);
        connection.transaction = ((...args: Parameters<IDBDatabase['transaction']>) => {
          const tx = transaction(...args);
          if (!unsettled) return tx;
          return new Proxy(tx, {
            set: (target, key, value) => (key === 'oncomplete' || key === 'onabort' ? true : Reflect.set(target, key, value)),
            get: (target, key) => {
              const value = Reflect.get(target, key) as unknown;
              return typeof value === 'function' ? value.bind(target) : value;
            },
          });
        }) as IDBDatabase['transaction'];
      });
      return request;
    };
    const q = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
    await q.push(1);
    unsettled = true;
    const pushing = q.push(2);
    await new Promise((resolve) => setTimeout(resolve, 10));
    db!.onclose!.call(db!, new Event('close'));
    const hung = new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000));
    await expect(Promise.race([pushing, hung])).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('closed the IndexedDB database') });
    await expect(Promise.race([q.close(), hung])).resolves.toBeUndefined();
    unsettled = false;
    const again = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
    await expect(Promise.race([again.push(3), hung])).resolves.toEqual(expect.any(String));
    await again.close();
  });
});
