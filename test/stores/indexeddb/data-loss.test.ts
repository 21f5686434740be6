import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { Outbox, Queue } from '../../../src/index.js';
import { IndexedDbStore, type DataLossDetail } from '../../../src/indexeddb.js';

/**
 * A factory whose next opens say what Chromium's say after it deleted a database it found damaged (its LevelDB fails
 * "checksum mismatch" after the browser was killed): the database is made again, empty, and the `upgradeneeded` event
 * of that open alone carries `dataLoss: 'total'`.
 */
function afterChromiumDeletedIt(real: IDBFactory, names: Set<string>): IDBFactory {
  return new Proxy(real, {
    get(target, prop) {
      if (prop !== 'open') return Reflect.get(target, prop, target);
      return (name: string, version?: number) => {
        const request = target.open(name, version);
        if (!names.has(name)) return request;
        names.delete(name);
        return new Proxy(request, {
          get: (r, p) => Reflect.get(r, p, r),
          set(r, p, value) {
            if (p === 'onupgradeneeded' && typeof value === 'function') {
              return Reflect.set(r, p, (event: Event) => {
                Object.defineProperties(event, {
                  dataLoss: { value: 'total' },
                  dataLossMessage: { value: 'IndexedDB (database was corrupt): checksum mismatch' },
                });
                return value.call(r, event);
              }, r);
            }
            return Reflect.set(r, p, value, r);
          },
        });
      };
    },
  });
}

describe('a database the browser deleted as damaged and made again, empty', () => {
  it("is told in a 'dataloss' event and in store.dataLoss, before the queue's open resolves", async () => {
    const factory = afterChromiumDeletedIt(new IDBFactory(), new Set(['sluice']));
    const store = new IndexedDbStore({ indexedDB: factory });
    const heard: DataLossDetail[] = [];
    store.addEventListener('dataloss', (event) => heard.push(event.detail));
    const q = await Queue.open<number>({ name: 'q', store });
    const told = { dbName: 'sluice', loss: 'total', message: 'IndexedDB (database was corrupt): checksum mismatch' };
    expect(heard).toEqual([told]);
    expect(store.dataLoss).toEqual([told]);
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it("tells an outbox's bodies' database too", async () => {
    const factory = afterChromiumDeletedIt(new IDBFactory(), new Set(['sluice.blobs']));
    const store = new IndexedDbStore({ indexedDB: factory });
    const outbox = await Outbox.open({ name: 'api', store, baseUrl: 'https://api.example.com', fetch: async () => new Response(null, { status: 200 }) });
    await outbox.enqueue({ url: '/x', body: new Blob([new Uint8Array(70_000)]) });
    expect(store.dataLoss).toMatchObject([{ dbName: 'sluice.blobs', loss: 'total' }]);
    await outbox.close();
  });

  it('says nothing for an ordinary new database', async () => {
    const store = new IndexedDbStore({ indexedDB: new IDBFactory() });
    const heard: unknown[] = [];
    store.addEventListener('dataloss', (event) => heard.push(event));
    const q = await Queue.open<number>({ name: 'q', store });
    await q.push(1);
    expect(heard).toEqual([]);
    expect(store.dataLoss).toEqual([]);
    await q.close();
  });
});
