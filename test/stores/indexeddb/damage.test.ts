import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import type { CorruptDetail } from '../../../src/core/events.js';
import type { Store } from '../../../src/core/store.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { FakeLockManager } from '../../support/fake-locks.js';
import { request } from './helpers.js';

// The database damaged under a queue with plain IndexedDB calls (devtools, another library, a partial clear of site
// data): whatever was lost is reported, never taken for a queue that was empty, and nothing hangs.

type Item = { n: number | string };
const relaxed = { durability: 'relaxed' } as const;
const bytes = (...values: number[]) => Uint8Array.from(values);

/** Runs `change` in one readwrite transaction over `stores` of the database, bypassing the store under test. */
async function damage(factory: IDBFactory, stores: string[], change: (tx: IDBTransaction) => void): Promise<void> {
  const db = await request(factory.open('sluice'));
  const tx = db.transaction(stores, 'readwrite');
  change(tx);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
  db.close();
}

const chunksOf = (segment: number) => IDBKeyRange.bound(['q', segment, 0], ['q', segment, Infinity]);

/** `inner`, whose storages refuse to load more than `max` times: a loop that never settles fails instead. */
function bounded(inner: Store, max = 200): Store {
  return {
    async open(name) {
      const storage = await inner.open(name);
      let loads = 0;
      const load = storage.load.bind(storage);
      return Object.assign(storage, {
        load: () => (++loads > max ? Promise.reject(new Error(`loaded ${loads} times: the queue reloads without end`)) : load()),
      });
    },
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

// Each case twice: without Web Locks (every commit replaces the head) and with them (a push is one put into `chunks`).
describe.each([
  ['without Web Locks', false],
  ['with Web Locks', true],
])('IndexedDbStore damaged under a queue, %s', (_, locked) => {
  function setup() {
    const factory = new IDBFactory();
    const locks = locked ? new FakeLockManager() : undefined;
    const store = () => {
      // The store reads `navigator.locks` when it is made: each one stands for a tab of its own.
      vi.stubGlobal('navigator', locks ? { locks: locks.context() } : {});
      return bounded(new IndexedDbStore({ indexedDB: factory }));
    };
    const open = async (options: { corruption?: 'skip' | 'throw' } = {}) => {
      const corrupt: CorruptDetail[] = [];
      const q = await Queue.open<Item>({ name: 'q', store: store(), segmentItems: 5, corruption: 'skip', ...options });
      q.addEventListener('corrupt', (event) => corrupt.push(event.detail));
      // What open found is told a tick after it resolves.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { q, corrupt };
    };
    return { factory, open };
  }

  /** Twelve items in segments of five (0-4, 5-9, then 10 and 11 in the tail), pushed one at a time, then closed. */
  async function pushTwelve(open: ReturnType<typeof setup>['open']): Promise<void> {
    const { q } = await open();
    for (let n = 0; n < 12; n++) await q.push({ n });
    await q.close();
  }

  async function drain(q: Queue<Item>): Promise<string[]> {
    const ids: string[] = [];
    for (let lease = await q.take(100); lease; lease = await q.take(100)) {
      ids.push(...lease.entries.map((e) => e.id));
      await lease.ack();
    }
    return ids;
  }

  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

  it('.take() over a sealed segment whose chunks were removed reports its items lost and delivers the rest', async () => {
    const { factory, open } = setup();
    await pushTwelve(open);
    await damage(factory, ['chunks'], (tx) => tx.objectStore('chunks').delete(chunksOf(5)));
    const b = await open();
    expect(await drain(b.q)).toEqual([...range(0, 5), '10', '11']);
    expect(b.corrupt).toEqual([{ queue: 'q', segment: 5, offset: 0, lost: range(5, 10), action: 'skip', reason: 'missing' }]);
    await b.q.close();
  });

  it('.take() over a sealed segment that lost its chunks while the queue was open reports them and settles', async () => {
    const { factory, open } = setup();
    await pushTwelve(open);
    // Opened first: it has read the tail only (a handle that pushed them would still hold them in memory).
    const b = await open();
    await damage(factory, ['chunks'], (tx) => tx.objectStore('chunks').delete(chunksOf(5)));
    expect(await drain(b.q)).toEqual([...range(0, 5), '10', '11']);
    expect(b.corrupt.flatMap((c) => c.lost)).toEqual(range(5, 10));
    await b.q.close();
  });

  it('Queue.open() after the chunks and segments were cleared reports every item lost, and never gives an id out again', async () => {
    const { factory, open } = setup();
    await pushTwelve(open);
    await damage(factory, ['chunks', 'segments'], (tx) => {
      tx.objectStore('chunks').clear();
      tx.objectStore('segments').clear();
    });
    await expect(open({ corruption: 'throw' })).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    const b = await open();
    expect(b.corrupt).toHaveLength(1);
    expect(b.corrupt[0]).toMatchObject({ queue: 'q', action: 'skip', reason: 'missing' });
    expect(b.corrupt[0]!.lost).toEqual(expect.arrayContaining(range(0, 12)));
    expect(Number(await b.q.push({ n: 'new' }))).toBeGreaterThanOrEqual(12);
    await b.q.close();
    const c = await open();
    expect((await c.q.list()).map((e) => e.value)).toEqual([{ n: 'new' }]);
    expect(c.corrupt).toEqual([]);
    await c.q.close();
  });

  it('Queue.open() after the tail segment lost its chunks reports its items lost, and never gives their ids out again', async () => {
    const { factory, open } = setup();
    await pushTwelve(open);
    await damage(factory, ['chunks'], (tx) => tx.objectStore('chunks').delete(chunksOf(10)));
    const b = await open();
    expect(b.corrupt).toHaveLength(1);
    expect(b.corrupt[0]!.lost).toEqual(expect.arrayContaining(['10', '11']));
    expect(b.corrupt[0]!.lost).not.toContain('9');
    const id = await b.q.push({ n: 'new' });
    expect(Number(id)).toBeGreaterThanOrEqual(12);
    expect(await drain(b.q)).toEqual([...range(0, 10), id]);
    await b.q.close();
  });

  it('Queue.open() of a queue that was not damaged reports nothing', async () => {
    const { open } = setup();
    const a = await open();
    for (let n = 0; n < 12; n++) await a.q.push({ n });
    await (await a.q.take(7))!.ack();
    await a.q.close();
    const b = await open({ corruption: 'throw' });
    expect(await drain(b.q)).toEqual(range(7, 12));
    expect(b.corrupt).toEqual([]);
    await b.q.close();
  });

  it('.push() after the segment records were cleared (the tail unrecorded, as earlier version 2 code left it) is kept', async () => {
    const { factory, open } = setup();
    await pushTwelve(open);
    // Heads as version 2 code before the tail was recorded wrote them, and no segment records: the chunks stay.
    await damage(factory, ['heads', 'segments'], (tx) => {
      tx.objectStore('segments').clear();
      const cursor = tx.objectStore('heads').openCursor();
      cursor.onsuccess = () => {
        if (!cursor.result) return;
        const { queue, version } = cursor.result.value as { queue: string; version: number };
        cursor.result.update({ queue, version });
        cursor.result.continue();
      };
    });
    const b = await open();
    const id = await b.q.push({ n: 'new' });
    await b.q.close();
    const c = await open();
    const listed = (await c.q.list()).map((e) => [e.id, e.value]);
    expect(listed).toContainEqual([id, { n: 'new' }]);
    expect(new Set(listed.map(([at]) => at)).size).toBe(listed.length);
    // What is left of the items pushed before is delivered or reported lost: none goes unaccounted for.
    const delivered = await drain(c.q);
    const lost = c.corrupt.flatMap((detail) => detail.lost);
    for (let n = 0; n < 12; n++) expect(delivered.includes(String(n)) || lost.includes(String(n))).toBe(true);
    expect(delivered).toContain(id);
    await c.q.close();
  });
});

describe('IndexedDbQueueStorage.commit() into a segment that has no record', () => {
  it('a write at offset 0 drops the chunks left past it, whatever the records say', async () => {
    const factory = new IDBFactory();
    const a = await new IndexedDbStore({ indexedDB: factory }).open('q');
    let token = (await a.load()).token;
    token = (await a.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1, 2, 3) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 0, offset: 3, bytes: bytes(4, 5) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 7, offset: 0, bytes: bytes(6) }, ...relaxed }))!;
    await a.close();
    await damage(factory, ['segments'], (tx) => tx.objectStore('segments').delete(['q', 0]));
    const b = await new IndexedDbStore({ indexedDB: factory }).open('q');
    token = (await b.load()).token;
    token = (await b.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(9) }, ...relaxed }))!;
    expect(token).toBeDefined();
    expect(await b.read(0, 0, 100)).toEqual(bytes(9));
    // Appends that reach where the old chunks began: none of those is read as part of the segment.
    token = (await b.commit(token, { write: { segment: 0, offset: 1, bytes: bytes(8, 8) }, ...relaxed }))!;
    const c = await new IndexedDbStore({ indexedDB: factory }).open('q');
    expect((await c.load()).segments).toEqual([
      { id: 0, length: 3 },
      { id: 7, length: 1 },
    ]);
    expect(await c.read(0, 0, 100)).toEqual(bytes(9, 8, 8));
    await b.close();
    await c.close();
  });
});

describe('IndexedDbQueueStorage.load() of a segment whose chunks a read found short', () => {
  it('lists it as far as its chunks reach without a gap, and reads no further', async () => {
    const factory = new IDBFactory();
    const a = await new IndexedDbStore({ indexedDB: factory }).open('q');
    let token = (await a.load()).token;
    token = (await a.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1, 2) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 0, offset: 2, bytes: bytes(3) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 0, offset: 3, bytes: bytes(4) }, ...relaxed }))!;
    token = (await a.commit(token, { write: { segment: 5, offset: 0, bytes: bytes(5) }, ...relaxed }))!;
    await a.close();
    // A chunk from the middle of sealed segment 0: what follows it is not where its offset says.
    await damage(factory, ['chunks'], (tx) => tx.objectStore('chunks').delete(['q', 0, 2]));
    const b = await new IndexedDbStore({ indexedDB: factory }).open('q');
    // Its record is trusted until a read finds it short (a load reads no sealed segment's chunks).
    expect((await b.load()).segments).toEqual([
      { id: 0, length: 4 },
      { id: 5, length: 1 },
    ]);
    expect(await b.read(0, 0, 4)).toEqual(bytes(1, 2));
    expect((await b.load()).segments).toEqual([
      { id: 0, length: 2 },
      { id: 5, length: 1 },
    ]);
    // A write below what its record said cuts the chunks past it.
    const snapshot = await b.load();
    await b.commit(snapshot.token, { write: { segment: 0, offset: 2, bytes: bytes(7) }, ...relaxed });
    expect(await b.read(0, 0, 10)).toEqual(bytes(1, 2, 7));
    await b.close();
  });
});
