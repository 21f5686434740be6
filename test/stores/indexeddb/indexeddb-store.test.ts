import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { Queue, SluiceError } from '../../../src/index.js';
import type { QueueStorage } from '../../../src/core/store.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { dump, request } from './helpers.js';

// Every test gets a database nobody else sees: its own factory, as a fresh browser profile.
const fresh = (dbName = 'sluice') => new IndexedDbStore({ dbName, indexedDB: new IDBFactory() });
const bytes = (...values: number[]) => Uint8Array.from(values);
const relaxed = { durability: 'relaxed' } as const;

describe('new IndexedDbStore()', () => {
  it('defaults to the database "sluice" and rejects bad options', () => {
    expect(new IndexedDbStore().dbName).toBe('sluice');
    // Scoped by its database: an outbox's tabs on one database share a scope, and only they.
    expect(new IndexedDbStore().scope).toBe(new IndexedDbStore({ dbName: 'sluice' }).scope);
    expect(new IndexedDbStore({ dbName: 'other' }).scope).not.toBe(new IndexedDbStore().scope);
    // The platform's factory given is the platform's; another (a fake one per test) holds other databases of one name.
    expect(new IndexedDbStore({ indexedDB }).scope).toBe(new IndexedDbStore().scope);
    const [a, b] = [new IDBFactory(), new IDBFactory()];
    expect(new IndexedDbStore({ indexedDB: a }).scope).toBe(new IndexedDbStore({ indexedDB: a }).scope);
    expect(new Set([new IndexedDbStore({ indexedDB: a }).scope, new IndexedDbStore({ indexedDB: b }).scope, new IndexedDbStore().scope]).size).toBe(3);
    expect(() => new IndexedDbStore({ dbName: '' })).toThrow(SluiceError);
    expect(() => new IndexedDbStore({ indexedDB: {} as IDBFactory })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it('refuses a factory whose open() gives no IDBOpenDBRequest (a promise, as idb\'s openDB), rather than wait for ever', async () => {
    for (const open of [() => ({}), async () => ({})]) {
      const store = new IndexedDbStore({ indexedDB: { open } as unknown as IDBFactory });
      await expect(store.open('q')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('IDBOpenDBRequest') });
    }
  });

  it('reads no global when constructed, and says so when there is no IndexedDB', async () => {
    const saved = globalThis.indexedDB;
    // @ts-expect-error removed for this test only
    delete globalThis.indexedDB;
    try {
      const store = new IndexedDbStore();
      await expect(store.open('q')).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    } finally {
      globalThis.indexedDB = saved;
    }
  });

  it('{ indexedDB } keeps the queues in the factory given', async () => {
    const factory = new IDBFactory();
    const q = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
    await q.push(1);
    await q.close();
    expect((await factory.databases()).map((d) => d.name)).toEqual(['sluice']);
    const elsewhere = await Queue.open<number>({ name: 'q', store: fresh() });
    expect(await elsewhere.size()).toBe(0);
    await elsewhere.close();
  });

  it('checks queue names before they reach the database', async () => {
    await expect(fresh().open('../x')).rejects.toMatchObject({ code: 'ERR_INVALID_NAME' });
  });

  it('one database holds any number of queues, independently', async () => {
    const store = fresh();
    const a = await Queue.open<number>({ name: 'a', store });
    const b = await Queue.open<number>({ name: 'b', store });
    await a.pushMany([1, 2]);
    await b.push(3);
    expect(await a.peek(5)).toEqual([1, 2]);
    expect(await b.peek(5)).toEqual([3]);
    await a.close();
    await b.close();
  });
});

describe('.commit()', () => {
  async function pair(): Promise<[QueueStorage, QueueStorage]> {
    const factory = new IDBFactory();
    const open = () => new IndexedDbStore({ indexedDB: factory }).open('q');
    return [await open(), await open()];
  }

  it('refuses a token any number of commits old, and writes nothing of it', async () => {
    const [a, b] = await pair();
    const old = (await a.load()).token;
    let token = (await b.load()).token;
    token = (await b.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1) }, ...relaxed }))!;
    token = (await b.commit(token, { write: { segment: 0, offset: 1, bytes: bytes(2) }, ...relaxed }))!;
    // One commit behind breaks the head's key; two or more behind, the head's unique index.
    expect(await a.commit(old, { write: { segment: 0, offset: 0, bytes: bytes(9, 9, 9) }, meta: bytes(7), ...relaxed })).toBeUndefined();
    expect(await a.commit(String(Number(token) - 1), { write: { segment: 0, offset: 2, bytes: bytes(9) }, ...relaxed })).toBeUndefined();
    const now = await a.load();
    // The head records the newest segment and its length as the last commit left them (see `Head.tail`).
    expect(now).toEqual({ token, meta: undefined, segments: [{ id: 0, length: 2 }], tail: { id: 0, length: 2 } });
    expect(await a.read(0, 0, 10)).toEqual(bytes(1, 2));
  });

  it('a write at an earlier offset cuts there, shortening the chunk that reaches across', async () => {
    const [a, b] = await pair();
    let token = (await a.load()).token;
    token = (await a.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(0, 1, 2, 3) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 0, offset: 4, bytes: bytes(4, 5, 6, 7) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 0, offset: 2, bytes: bytes(20, 30) }, ...relaxed }))!;
    expect(await a.read(0, 0, 100)).toEqual(bytes(0, 1, 20, 30));
    expect((await b.load()).segments).toEqual([{ id: 0, length: 4 }]);
    expect(await b.read(0, 1, 3)).toEqual(bytes(1, 20));
    // A cut back to nothing, by the other handle.
    token = (await b.commit(token, { write: { segment: 0, offset: 0, bytes: bytes() }, ...relaxed }))!;
    expect((await a.load()).segments).toEqual([{ id: 0, length: 0 }]);
  });

  it('stores the bytes of a view on part of a buffer, not the whole buffer (pushes are framed into shared blocks)', async () => {
    const factory = new IDBFactory();
    const storage = await new IndexedDbStore({ indexedDB: factory }).open('q');
    const block = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);
    const token = (await storage.load()).token;
    await storage.commit(token, { write: { segment: 0, offset: 0, bytes: block.subarray(100, 110) }, metaAppend: { offset: 0, bytes: block.subarray(7, 9) }, ...relaxed });
    const chunks = (await dump(factory, 'sluice', 'chunks')).map(({ value }) => value as Uint8Array);
    expect(chunks.map((c) => [c.byteLength, c.buffer.byteLength])).toEqual([
      [2, 2],
      [10, 10],
    ]);
    expect(await storage.read(0, 0, 100)).toEqual(block.slice(100, 110));
    await storage.close();
  });

  it('keeps every segment length right as writes move from segment to segment', async () => {
    const [a, b] = await pair();
    let token = (await a.load()).token;
    token = (await a.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1, 2, 3) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 3, offset: 0, bytes: bytes(4) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 3, offset: 1, bytes: bytes(5) }, ...relaxed }))!;
    expect((await b.load()).segments).toEqual([
      { id: 0, length: 3 },
      { id: 3, length: 2 },
    ]);
    token = (await b.commit(token, { write: { segment: 5, offset: 0, bytes: bytes(6) }, remove: [0], ...relaxed }))!;
    token = (await b.commit(token, { remove: [5], ...relaxed }))!;
    expect((await a.load()).segments).toEqual([{ id: 3, length: 2 }]);
    expect(await a.read(0, 0, 10)).toEqual(bytes());
  });

  it('quarantine sets a segment aside: no longer listed, its bytes kept in the quarantine store', async () => {
    const factory = new IDBFactory();
    const s = await new IndexedDbStore({ dbName: 'd', indexedDB: factory }).open('q');
    let token = (await s.load()).token;
    token = (await s.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1, 2) }, ...relaxed }))!;
    token = (await s.commit(token, { write: { segment: 2, offset: 0, bytes: bytes(3) }, ...relaxed }))!;
    await s.commit(token, { quarantine: [0], ...relaxed });
    expect((await s.load()).segments).toEqual([{ id: 2, length: 1 }]);
    expect(await dump(factory, 'd', 'quarantine')).toEqual([{ key: ['q', 0, 0], value: bytes(1, 2) }]);
  });

  it('after another tab deleted the database, rejects ERR_NOT_FOUND and never makes it again', async () => {
    const factory = new IDBFactory();
    const s = await new IndexedDbStore({ dbName: 'd', indexedDB: factory }).open('q');
    let token = (await s.load()).token;
    token = (await s.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1, 2) }, ...relaxed }))!;
    await request(factory.deleteDatabase('d'));
    await expect(s.commit(token, { write: { segment: 0, offset: 2, bytes: bytes(3) }, ...relaxed })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(s.load()).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(s.token()).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(s.read(0, 0, 2)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect(await factory.databases()).toEqual([]);
    await s.close();
  });
});

describe('a failed commit', () => {
  /** Makes the next put into `chunks` fail with `fail`, once. */
  async function failingPut<R>(fail: (store: IDBObjectStore) => void, run: () => Promise<R>): Promise<R> {
    const put = IDBObjectStore.prototype.put;
    let armed = true;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
      if (armed && this.name === 'chunks') {
        armed = false;
        fail(this);
      }
      return put.apply(this, args);
    } as typeof put;
    try {
      return await run();
    } finally {
      IDBObjectStore.prototype.put = put;
    }
  }

  it('QuotaExceededError becomes ERR_QUOTA_EXCEEDED and leaves the queue as it was', async () => {
    const store = fresh();
    const q = await Queue.open<string>({ name: 'q', store });
    await q.pushMany(['a', 'b']);
    const error = await failingPut(
      () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      },
      () => q.pushMany(['c', 'd']).catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('ERR_QUOTA_EXCEEDED');
    expect((error as SluiceError).cause).toBeInstanceOf(DOMException);
    expect(await q.size()).toBe(2);
    await q.push('e');
    expect(await q.peek(10)).toEqual(['a', 'b', 'e']);
    await q.close();
  });

  it('a transaction aborted under it becomes ERR_STORAGE and leaves the queue as it was', async () => {
    const store = fresh();
    const q = await Queue.open<string>({ name: 'q', store });
    await q.push('a');
    const error = await failingPut(
      (chunks) => chunks.transaction.abort(),
      () => q.push('b').catch((e: unknown) => e),
    );
    expect(error).toMatchObject({ code: 'ERR_STORAGE' });
    expect(await q.peek(10)).toEqual(['a']);
    await q.close();
  });

  it("a blob written anew (offset 0) that the quota refuses keeps what it held: the write's delete is not committed without it", async () => {
    const storage = await fresh().open('q');
    const blobs = storage.blobs!;
    await blobs.write('k', 0, bytes(1, 2, 3), 'relaxed');
    const error = await failingPut(
      () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      },
      () => blobs.write('k', 0, bytes(4, 5), 'relaxed').catch((e: unknown) => e),
    );
    expect(error).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    expect(await blobs.read('k', 0, 10)).toEqual(bytes(1, 2, 3));
    await storage.close();
  });
});

describe('.blobs.read()', () => {
  it('stops at the first gap between chunks (a short read), never filling it with zeros', async () => {
    const indexedDB = new IDBFactory();
    const storage = await new IndexedDbStore({ indexedDB }).open('q');
    const blobs = storage.blobs!;
    await blobs.write('holed', 0, bytes(1, 2, 3), 'relaxed');
    // Chunks past a gap, put there behind the store's back (its writes refuse to leave one).
    const db = await request(indexedDB.open('sluice.blobs'));
    const chunks = db.transaction('chunks', 'readwrite').objectStore('chunks');
    await Promise.all([request(chunks.put(bytes(9, 9), ['q', 'after', 100])), request(chunks.put(bytes(6, 7), ['q', 'holed', 5]))]);
    db.close();
    // The bytes before offset 100 were never written.
    expect(await blobs.read('after', 0, 102)).toEqual(bytes());
    expect(await blobs.read('after', 100, 102)).toEqual(bytes(9, 9));
    // A gap in the middle: the read ends where the first run of bytes ends.
    expect(await blobs.read('holed', 0, 7)).toEqual(bytes(1, 2, 3));
    expect(await blobs.read('holed', 1, 7)).toEqual(bytes(2, 3));
    expect(await blobs.read('holed', 5, 7)).toEqual(bytes(6, 7));
    // Chunks without a gap are read whole, across their boundaries, and up to the end of what is there.
    await blobs.write('whole', 0, bytes(1, 2), 'relaxed');
    await blobs.write('whole', 2, bytes(3, 4), 'relaxed');
    expect(await blobs.read('whole', 1, 10)).toEqual(bytes(2, 3, 4));
    await storage.close();
  });
});

describe('.blobs.write() of a view', () => {
  it('stores the viewed bytes alone, not the buffer under them (a Node Buffer\'s slice() is a view: its 8 KiB pool went in)', async () => {
    const indexedDB = new IDBFactory();
    const storage = await new IndexedDbStore({ indexedDB }).open('q');
    const pool = Buffer.from('Authorization: Bearer SECRET abc');
    const small = pool.subarray(pool.length - 3);
    await storage.blobs!.write('k', 0, small, 'relaxed');
    const db = await request(indexedDB.open('sluice.blobs'));
    const stored = (await request(db.transaction('chunks').objectStore('chunks').get(['q', 'k', 0]))) as Uint8Array;
    db.close();
    expect(stored.buffer.byteLength).toBe(3);
    expect(await storage.blobs!.read('k', 0, 3)).toEqual(bytes(...Buffer.from('abc')));
    await storage.close();
  });
});

describe('a readwrite transaction refused with an InvalidStateError (Firefox, right after one a full quota aborted)', () => {
  /** A factory whose databases refuse the next `refusals` readwrite transactions at once, as Firefox does. */
  function refusing(): { factory: IDBFactory; refuse: (times: number) => void } {
    const factory = new IDBFactory();
    const open = factory.open.bind(factory);
    let refusals = 0;
    factory.open = (name: string, version?: number) => {
      const opening = open(name, version);
      opening.addEventListener('success', () => {
        const db = opening.result;
        const transaction = db.transaction.bind(db);
        db.transaction = ((stores: string | string[], mode?: IDBTransactionMode, options?: IDBTransactionOptions) => {
          if (mode === 'readwrite' && refusals > 0) {
            refusals--;
            throw new DOMException('A mutation operation was attempted on a database that did not allow mutations.', 'InvalidStateError');
          }
          return transaction(stores, mode, options);
        }) as IDBDatabase['transaction'];
      });
      return opening;
    };
    return { factory, refuse: (times) => (refusals = times) };
  }

  it('is tried again once: the push and the blob write go through (they failed ERR_STORAGE, every other one at a full quota)', async () => {
    const { factory, refuse } = refusing();
    const store = new IndexedDbStore({ indexedDB: factory });
    const q = await Queue.open<number>({ name: 'q', store });
    refuse(1);
    await q.push(1);
    refuse(1);
    await q.blobs!.write('b', 0, bytes(1, 2, 3));
    expect(await q.blobs!.read('b', 0, 3)).toEqual(bytes(1, 2, 3));
    // Refused again on the second try: a failure of its own, said as one.
    refuse(2);
    await expect(q.push(2)).rejects.toMatchObject({ code: 'ERR_STORAGE', cause: { name: 'InvalidStateError' } });
    expect((await q.list()).map((e) => e.value)).toEqual([1]);
    await q.close();
  });
});
