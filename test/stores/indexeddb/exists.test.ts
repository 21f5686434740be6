import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { Outbox, Queue, SluiceError } from '../../../src/index.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { dump, request } from './helpers.js';

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('resolved'),
    (error: unknown) => error as SluiceError,
  );

const outboxOn = (store: IndexedDbStore) => Outbox.open({ name: 'api', store, baseUrl: 'https://api.example.com', fetch: async () => new Response(null, { status: 204 }) });

/** Counts the readwrite transactions begun on any connection of the factory's databases from now on. */
function countWrites(): { readonly count: number; stop(): void } {
  const proto = IDBDatabase.prototype;
  const real = proto.transaction;
  const counter = { count: 0, stop: () => void (proto.transaction = real) };
  proto.transaction = function (this: IDBDatabase, ...args: Parameters<typeof real>) {
    if (args[1] === 'readwrite') counter.count++;
    return real.apply(this, args);
  } as typeof real;
  return counter;
}

/**
 * A database holding the outbox 'api' as the sluice before `exists` left it: its queue holds one task (sent to no
 * server: offline), its dead letters never held one and have no trace at all (an open wrote nothing then).
 */
async function earlierOutbox(): Promise<IDBFactory> {
  const factory = new IDBFactory();
  const outbox = await Outbox.open({ name: 'api', store: new IndexedDbStore({ indexedDB: factory }), baseUrl: 'https://api.example.com', fetch: () => Promise.reject(new TypeError('offline')) });
  await outbox.enqueue({ url: '/orders', method: 'POST', body: { n: 1 } });
  await outbox.close();
  const db = await request(factory.open('sluice'));
  const tx = db.transaction('heads', 'readwrite');
  tx.objectStore('heads').delete(['api.dead', 0]);
  await new Promise((resolve) => (tx.oncomplete = resolve));
  db.close();
  return factory;
}

describe("IndexedDbStore: a Queue on an outbox's queue", () => {
  it('is refused with ERR_INCOMPATIBLE_STORE, and the task the outbox keeps there stays, unsent', async () => {
    const factory = new IDBFactory();
    const outbox = await outboxOn(new IndexedDbStore({ indexedDB: factory }));
    await outbox.enqueue({ url: '/orders', method: 'POST', body: { n: 1 } });
    // Its dead letters (`api.dead`) are opened and empty: nothing but the open tells that the outbox made them.
    expect(await outbox.dead.size()).toBe(0);
    // Another tab, with a Queue of the same name.
    const error = await rejection(Queue.open({ name: 'api', store: new IndexedDbStore({ indexedDB: factory }) }));
    expect(error.code).toBe('ERR_INCOMPATIBLE_STORE');
    expect((await rejection(Queue.open({ name: 'api.dead', store: new IndexedDbStore({ indexedDB: factory }) }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    expect((await outbox.list()).map((task) => task.url)).toEqual(['https://api.example.com/orders']);
    await outbox.close();
  });

  it('an outbox an earlier sluice made, its dead letters never written (no trace of them), opens after the upgrade and delivers its task', async () => {
    const factory = await earlierOutbox();
    const store = new IndexedDbStore({ indexedDB: factory });
    expect([await store.exists('api.dead'), await store.exists('api')]).toEqual([false, true]);
    // Refused as a Queue's, the outbox would never open again, its tasks held in it.
    const sent: string[] = [];
    const again = await Outbox.open({ name: 'api', store, baseUrl: 'https://api.example.com', fetch: async (input: RequestInfo | URL) => (sent.push(input instanceof Request ? input.url : String(input)), new Response(null, { status: 204 })) });
    expect(await again.size()).toBe(1);
    await again.flush({ reachable: true });
    expect(sent).toEqual(['https://api.example.com/orders']);
    // Its dead letters are marked now: a Queue is refused on its name from then on.
    expect((await rejection(Queue.open({ name: 'api', store: new IndexedDbStore({ indexedDB: factory }) }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    await again.close();
  });
});

describe('IndexedDbStore: the mark of an open, on a full quota', () => {
  it('is left unmade and the queue opens: an outbox an earlier sluice made still opens and delivers, which frees the space', async () => {
    const factory = await earlierOutbox();
    // The quota is full: every add fails.
    const proto = IDBObjectStore.prototype;
    const real = proto.add;
    proto.add = () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    const sent: string[] = [];
    let again: Outbox;
    try {
      again = await Outbox.open({ name: 'api', store: new IndexedDbStore({ indexedDB: factory }), baseUrl: 'https://api.example.com', fetch: async (input: RequestInfo | URL) => (sent.push(input instanceof Request ? input.url : String(input)), new Response(null, { status: 204 })) });
    } finally {
      proto.add = real;
    }
    await again.flush({ reachable: true });
    expect(sent).toEqual(['https://api.example.com/orders']);
    await again.close();
    // Opened again with room, it is marked.
    const store = new IndexedDbStore({ indexedDB: factory });
    await (await Outbox.open({ name: 'api', store, fetch: async () => new Response(null, { status: 204 }) })).close();
    expect(await store.exists('api.dead')).toBe(true);
  });
});

describe('IndexedDbStore.exists()', () => {
  it('is false, and makes no database, where the database is not there', async () => {
    const factory = new IDBFactory();
    const store = new IndexedDbStore({ indexedDB: factory, dbName: 'app' });
    expect(await store.exists('q')).toBe(false);
    expect(await factory.databases()).toEqual([]);
  });

  it('is true once any handle of the database opened the queue, and only for that name', async () => {
    const factory = new IDBFactory();
    const storage = await new IndexedDbStore({ indexedDB: factory }).open('x.dead');
    const other = new IndexedDbStore({ indexedDB: factory });
    expect(await other.exists('x.dead')).toBe(true);
    expect(await other.exists('x')).toBe(false);
    expect(await other.exists('x.dea')).toBe(false);
    await storage.close();
    // Closed, with nothing ever written: still there.
    expect(await new IndexedDbStore({ indexedDB: factory }).exists('x.dead')).toBe(true);
  });

  it('is true for a queue an earlier sluice made, with records but no mark of its open', async () => {
    const factory = new IDBFactory();
    const store = new IndexedDbStore({ indexedDB: factory });
    const s = await store.open('old');
    const { token } = await s.load();
    await s.commit(token, { write: { segment: 0, offset: 0, bytes: new Uint8Array([1]) }, durability: 'relaxed' });
    await s.close();
    // As an earlier sluice left it: records in `chunks` (and `segments`), no head.
    const db = await request(factory.open('sluice'));
    const tx = db.transaction('heads', 'readwrite');
    tx.objectStore('heads').clear();
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
    expect(await dump(factory, 'sluice', 'chunks')).toHaveLength(1);
    expect(await new IndexedDbStore({ indexedDB: factory }).exists('old')).toBe(true);
  });

  it('costs an open a readwrite transaction only where the queue was never recorded', async () => {
    const factory = new IDBFactory();
    await (await new IndexedDbStore({ indexedDB: factory }).open('q')).close();
    const writes = countWrites();
    try {
      const store = new IndexedDbStore({ indexedDB: factory });
      await (await store.open('q')).close();
      await (await store.open('q')).close();
      expect(writes.count).toBe(0);
      await (await store.open('new')).close();
      expect(writes.count).toBe(1);
    } finally {
      writes.stop();
    }
  });

  it('is true for a new queue that two tabs open at once, and both opens succeed', async () => {
    const factory = new IDBFactory();
    const stores = [0, 1, 2].map(() => new IndexedDbStore({ indexedDB: factory }));
    const opened = await Promise.all(stores.map((store) => store.open('q')));
    expect(await stores[0]!.exists('q')).toBe(true);
    expect(await dump(factory, 'sluice', 'heads')).toEqual([{ key: ['q', 0], value: { queue: 'q', version: 0 } }]);
    await Promise.all(opened.map((s) => s.close()));
  });

  it('refuses a bad name', async () => {
    const store = new IndexedDbStore({ indexedDB: new IDBFactory() });
    expect((await rejection(store.exists('a/b'))).code).toBe('ERR_INVALID_NAME');
  });
});
