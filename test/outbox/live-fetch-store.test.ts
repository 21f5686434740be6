import 'fake-indexeddb/auto';
import { expect, it } from 'vitest';
import { MemoryStore, Outbox, type Store } from '../../src/index.js';

/** A MemoryStore whose reads fail once `broken` is set (an IndexedDB the browser closed, a Redis down). */
function breakable(): { store: Store; breakIt: () => void } {
  const inner = new MemoryStore();
  let broken = false;
  const store: Store = {
    async open(name) {
      const s = await inner.open(name);
      const fail = () => Promise.reject(new Error('the store is unreachable'));
      return Object.assign(Object.create(s), {
        load: () => (broken ? fail() : s.load()),
        read: (seg: number, a: number, b: number) => (broken ? fail() : s.read(seg, a, b)),
        token: () => (broken ? fail() : s.token()),
        commit: (t: string, b: never) => (broken ? fail() : s.commit(t, b)),
        close: () => s.close(),
        ...(s.watch && { watch: (l: () => void) => s.watch!(l) }),
      });
    },
  };
  return { store, breakIt: () => (broken = true) };
}

it("ordering 'none': a live request goes to the network without reading the store", async () => {
  const { store, breakIt } = breakable();
  const sent: string[] = [];
  const outbox = await Outbox.open({ name: 'api', store, ordering: 'none', fetch: async (input) => (sent.push(String(input)), new Response('ok')) });
  await outbox.enqueue({ url: 'https://example.test/queued', id: 'queued' });
  // Another handle's push arrives (a notice), then the store becomes unreadable.
  const other = await Outbox.open({ name: 'api', store, ordering: 'none', fetch: async () => new Response('ok') });
  await other.enqueue({ url: 'https://example.test/other', id: 'other' });
  breakIt();
  const response = await outbox.fetch(new Request('https://example.test/live', { method: 'POST', body: 'x' })).catch((e: unknown) => e);
  expect(response).toBeInstanceOf(Response);
});

it('a store deleted under the outbox (site data cleared): a live request goes to the network, and is refused (ERR_NOT_FOUND) only when it would have to be stored', async () => {
  const { IDBFactory } = await import('fake-indexeddb');
  const { IndexedDbStore } = await import('../../src/indexeddb.js');
  const factory = new IDBFactory();
  let up = true;
  const sent: string[] = [];
  const fetch = async (input: RequestInfo | URL) => {
    if (!up) throw new TypeError('fetch failed');
    sent.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
    return new Response('ok');
  };
  const outbox = await Outbox.open({ name: 'api', store: new IndexedDbStore({ indexedDB: factory }), fetch: fetch as typeof globalThis.fetch });
  try {
    outbox.addEventListener('error', () => undefined);
    await outbox.enqueue({ url: 'https://example.test/stored' });
    await new Promise<void>((resolve, reject) => {
      const deleting = factory.deleteDatabase('sluice');
      deleting.onsuccess = () => resolve();
      deleting.onerror = () => reject(deleting.error);
    });
    const response = await outbox.fetch('https://example.test/live', { method: 'POST', body: 'x' });
    expect(response.status).toBe(200);
    expect(sent).toEqual(['/live']);
    up = false;
    await expect(outbox.fetch('https://example.test/down', { method: 'POST', body: 'x' })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  } finally {
    await outbox.close();
  }
});

it("the browser closing the database as the site's data is cleared (its 'close' event, in every engine): a live request of a group the handle holds nothing of still goes to the network", async () => {
  const { IDBFactory } = await import('fake-indexeddb');
  const { IndexedDbStore } = await import('../../src/indexeddb.js');
  const factory = new IDBFactory();
  const opened: IDBDatabase[] = [];
  const open = factory.open.bind(factory);
  factory.open = ((...args: Parameters<IDBFactory['open']>) => {
    const request = open(...args);
    request.addEventListener('success', () => opened.push(request.result));
    return request;
  }) as IDBFactory['open'];
  const sent: string[] = [];
  const fetch = async (input: RequestInfo | URL) => (sent.push(new URL(input instanceof Request ? input.url : String(input)).pathname), new Response('ok'));
  const outbox = await Outbox.open({ name: 'api', store: new IndexedDbStore({ indexedDB: factory }), fetch: fetch as typeof globalThis.fetch });
  try {
    outbox.addEventListener('error', () => undefined);
    await outbox.enqueue({ url: 'https://example.test/stored', group: 'g' });
    for (const db of opened) {
      db.close();
      db.onclose?.call(db, new Event('close'));
    }
    const response = await outbox.fetch('https://example.test/live', { method: 'POST', body: 'x', headers: { 'sluice-group': 'h' } });
    expect(response.status).toBe(200);
    expect(sent).toEqual(['/live']);
  } finally {
    await outbox.close();
  }
});

it('a store that cannot be read: a live request of a group this handle holds tasks of is not sent ahead of them (stored behind, which fails, typed)', async () => {
  const { store, breakIt } = breakable();
  const sent: string[] = [];
  const outbox = await Outbox.open({ name: 'api', store, fetch: async (input) => (sent.push(new URL(input instanceof Request ? input.url : String(input)).pathname), new Response('ok')) });
  try {
    outbox.addEventListener('error', () => undefined);
    await outbox.enqueueMany([{ url: 'https://example.test/a1', group: 'g' }, { url: 'https://example.test/a2', group: 'g' }]);
    breakIt();
    await expect(outbox.fetch('https://example.test/live', { method: 'POST', body: 'x', headers: { 'sluice-group': 'g' } })).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    // A group it holds nothing of goes to the network all the same.
    expect((await outbox.fetch('https://example.test/other', { method: 'POST', body: 'x', headers: { 'sluice-group': 'h' } })).status).toBe(200);
    expect(sent).toEqual(['/other']);
  } finally {
    await outbox.close();
  }
});
