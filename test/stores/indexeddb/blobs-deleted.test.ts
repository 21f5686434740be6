import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { request } from './helpers.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const deleted = { code: 'ERR_NOT_FOUND', message: expect.stringMatching(/"sluice\.blobs" was deleted.*gone/) };

describe('another tab deleting the blob database alone', () => {
  it('makes every blob call of a queue opened before reject ERR_NOT_FOUND, as the queue database would, never making it again empty', async () => {
    const factory = new IDBFactory();
    const store = new IndexedDbStore({ indexedDB: factory });
    const q = await Queue.open<number>({ name: 'q', store });
    // Opened before the deletion, its blobs never used: what it stored there is gone all the same.
    const other = await Queue.open<number>({ name: 'other', store });
    await q.blobs!.write('k', 0, bytes(1, 2, 3));
    await request(factory.deleteDatabase('sluice.blobs'));
    await expect(q.blobs!.read('k', 0, 3)).rejects.toMatchObject(deleted);
    await expect(q.blobs!.keys()).rejects.toMatchObject(deleted);
    await expect(q.blobs!.write('k', 0, bytes(4))).rejects.toMatchObject(deleted);
    await expect(q.blobs!.delete(['k'])).rejects.toMatchObject(deleted);
    await expect(other.blobs!.keys()).rejects.toMatchObject(deleted);
    // Nothing was made again behind the application's back; the queue's own database is untouched and still works.
    expect((await factory.databases()).map((d) => d.name)).toEqual(['sluice']);
    await q.push(1);
    expect(await q.peek(5)).toEqual([1]);
    await q.close();
    await other.close();
    // Opened again, the queue starts its blobs anew, as a queue opened again after its database was deleted does.
    const again = await Queue.open<number>({ name: 'q', store });
    expect(await again.blobs!.keys()).toEqual([]);
    await again.blobs!.write('k', 0, bytes(7));
    expect(await again.blobs!.read('k', 0, 5)).toEqual(bytes(7));
    expect(await again.peek(5)).toEqual([1]);
    await again.close();
  });

  it("rejects a blob call running when the deletion came with why, not with the closed connection's error", async () => {
    const factory = new IDBFactory();
    const storage = await new IndexedDbStore({ indexedDB: factory }).open('q');
    const blobs = storage.blobs!;
    await blobs.write('k', 0, bytes(1), 'relaxed');
    const deleting = request(factory.deleteDatabase('sluice.blobs'));
    const running = Promise.allSettled([blobs.keys(), blobs.read('k', 0, 1)]);
    await deleting;
    for (const result of await running) if (result.status === 'rejected') expect(result.reason).toMatchObject(deleted);
    await expect(blobs.keys()).rejects.toMatchObject(deleted);
    expect((await factory.databases()).map((d) => d.name)).toEqual(['sluice']);
    await storage.close();
  });
});

describe('the browser aborting a blob transaction (site data cleared)', () => {
  it('rejects a read or a listing with a SluiceError, leaving no rejection unhandled behind it', async () => {
    const factory = new IDBFactory();
    const storage = await new IndexedDbStore({ indexedDB: factory }).open('q');
    const blobs = storage.blobs!;
    await blobs.write('k', 0, bytes(1, 2, 3), 'relaxed');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // What Chromium does to every transaction open when site data is cleared: aborts it under its requests.
    const transaction = IDBDatabase.prototype.transaction;
    IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
      const tx = transaction.apply(this, args);
      tx.commit = () => undefined;
      queueMicrotask(() => tx.abort());
      return tx;
    } as typeof transaction;
    try {
      await expect(blobs.read('k', 0, 3)).rejects.toMatchObject({ code: 'ERR_STORAGE' });
      await expect(blobs.keys()).rejects.toMatchObject({ code: 'ERR_STORAGE' });
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      IDBDatabase.prototype.transaction = transaction;
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    await storage.close();
  });
});
