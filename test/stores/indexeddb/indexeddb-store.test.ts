import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { Queue, SluiceError } from '../../../src/index.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { VERSION } from '../../../src/stores/indexeddb/schema.js';

let n = 0;
const fresh = () => `sluice-idb-${n++}`;

describe('new IndexedDbStore()', () => {
  it('defaults to the database "sluice" and rejects bad options', () => {
    expect(new IndexedDbStore().dbName).toBe('sluice');
    expect(() => new IndexedDbStore({ dbName: '' })).toThrow(SluiceError);
  });

  it('checks queue names before they reach the database', async () => {
    const store = new IndexedDbStore({ dbName: fresh() });
    await expect(store.open('../x')).rejects.toMatchObject({ code: 'ERR_INVALID_NAME' });
  });

  it('one database holds any number of queues, independently', async () => {
    const store = new IndexedDbStore({ dbName: fresh() });
    const a = await Queue.open<number>({ name: 'a', store });
    const b = await Queue.open<number>({ name: 'b', store });
    await a.pushMany([1, 2]);
    await b.push(3);
    expect(await a.peek(5)).toEqual([1, 2]);
    expect(await b.peek(5)).toEqual([3]);
    await a.close();
    await b.close();
  });

  it('creates the schema of version 1 on a new database', async () => {
    const dbName = fresh();
    await (await new IndexedDbStore({ dbName }).open('q')).close();
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    expect(db.version).toBe(VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['chunks', 'heads', 'meta', 'quarantine', 'segments']);
    db.close();
  });
});

describe('a failed commit', () => {
  it('QuotaExceededError becomes ERR_QUOTA_EXCEEDED and leaves the queue as it was', async () => {
    const store = new IndexedDbStore({ dbName: fresh() });
    const q = await Queue.open<string>({ name: 'q', store });
    await q.pushMany(['a', 'b']);
    const put = IDBObjectStore.prototype.put;
    let armed = true;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
      if (armed && this.name === 'chunks') {
        armed = false;
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      return put.apply(this, args);
    } as typeof put;
    try {
      const error = await q.pushMany(['c', 'd']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe('ERR_QUOTA_EXCEEDED');
      expect((error as SluiceError).cause).toBeInstanceOf(DOMException);
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    expect(await q.size()).toBe(2);
    await q.push('e');
    await q.close();
    const again = await Queue.open<string>({ name: 'q', store: new IndexedDbStore({ dbName: store.dbName }) });
    expect(await again.peek(10)).toEqual(['a', 'b', 'e']);
    await again.close();
  });
});

describe('versionchange', () => {
  it('another tab upgrading the database is not blocked: this connection closes', async () => {
    const dbName = fresh();
    const q = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ dbName }) });
    await q.push(1);
    const upgraded = await new Promise<number>((resolve, reject) => {
      const request = indexedDB.open(dbName, VERSION + 1);
      request.onsuccess = () => {
        const version = request.result.version;
        request.result.close();
        resolve(version);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('blocked by the open queue'));
    });
    expect(upgraded).toBe(VERSION + 1);
    // This older code cannot use the newer database: it says so instead of hanging.
    await expect(q.push(2)).rejects.toBeInstanceOf(SluiceError);
    await q.close().catch(() => undefined);
  });
});
