import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { expect, it } from 'vitest';
import { Outbox } from '../../src/index.js';
import { IndexedDbStore } from '../../src/indexeddb.js';

function deleted(factory: IDBFactory, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = factory.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

it("a body being stored when another tab deletes the queue's database is deleted too: no task can name it", async () => {
  const factory = new IDBFactory();
  const store = new IndexedDbStore({ indexedDB: factory });
  const outbox = await Outbox.open({ name: 'api', store, fetch: async () => new Response('ok') });
  const chunk = new Uint8Array(256 * 1024).fill(7);
  // A logout handler in another tab wipes the queue's database while an upload is being stored.
  async function* upload() {
    yield chunk;
    yield chunk;
    await deleted(factory, 'sluice');
    yield chunk;
  }
  await expect(outbox.enqueue({ url: 'https://example.test/upload', body: upload() })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  await outbox.close().catch(() => undefined);
  // The bodies' database outlived the deletion: what the enqueue wrote there is gone from it.
  const again = await new IndexedDbStore({ indexedDB: factory }).open('api');
  expect(await again.blobs!.keys()).toEqual([]);
  await again.close();
});
