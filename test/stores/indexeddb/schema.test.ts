import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import { STORES, upgrades, VERSION } from '../../../src/stores/indexeddb/schema.js';
import { dump, request } from './helpers.js';

const b64 = (text: string) => Uint8Array.from(Buffer.from(text, 'base64'));

/**
 * A database of schema version 1 as the version 1 code left it (recorded from that code: queue "q" with
 * `segmentItems: 2` got 'a'…'f' in five pushes, 'a' taken and acked, 'b' taken and released by close; queue
 * "other" got one item). The tail's length was in its head then; its record in `segments` lagged (11, not 22).
 */
const version1: Record<string, [IDBValidKey, unknown][]> = {
  heads: [
    [['other', 1], { queue: 'other', version: 1, tail: { id: 0, length: 15 } }],
    [['q', 8], { queue: 'q', version: 8, tail: { id: 4, length: 22 } }],
  ],
  meta: [
    ['other', b64('TQAAgJ4Wpip7InYiOjIsImdlbiI6IjdmM2Y1Y2VhNTVhODdjZTMiLCJoZWFkIjowLCJhY2tlZCI6W10sImF0dGVtcHRzIjpbXSwiaG9sZHMiOltdfQ==')],
    ['q', b64('TQAAgMVvjOp7InYiOjIsImdlbiI6IjI2YTlhYzBjNTZlYmU3NzIiLCJoZWFkIjowLCJhY2tlZCI6W10sImF0dGVtcHRzIjpbXSwiaG9sZHMiOltdfQ==')],
  ],
  segments: [
    [['other', 0], { id: 0, length: 15 }],
    [['q', 0], { id: 0, length: 22 }],
    [['q', 2], { id: 2, length: 22 }],
    [['q', 4], { id: 4, length: 11 }],
  ],
  chunks: [
    [['other', 0, 0], b64('BwAAgLXFoFh7Im4iOjF9')],
    [['q', -1, 85], b64('QwAAgHTaZFNbWyJ0IiwiMWRmM2Y2M2FlNjAxMWY2Zi4wIiwiMzhmOTc1NzljZjg3MjY5OSIsMTc5NjEwNTExOTU4MixbMCwyXV1d')],
    [['q', -1, 160], b64('DQAAgGsbJg5bWyJhIixbMCwxXV1d')],
    [['q', -1, 181], b64('GgAAgBQSlX5bWyJvIiwiMzhmOTc1NzljZjg3MjY5OSJdXQ==')],
    [['q', 0, 0], b64('AwAAAG9Myz4iYSIDAACAl6m/+CJiIg==')],
    [['q', 2, 0], b64('AwAAgNaYpOEiYyI=')],
    [['q', 2, 11], b64('AwAAgBEO5a4iZCI=')],
    [['q', 4, 0], b64('AwAAgFA//rciZSI=')],
    [['q', 4, 11], b64('AwAAgJNs05wiZiI=')],
  ],
};

/** Writes `records` into a new database of `version`, laid out with plain IndexedDB calls as that version did. */
async function make(factory: IDBFactory, version: number, records: Record<string, [IDBValidKey, unknown][]>): Promise<void> {
  const open = factory.open('sluice', version);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore('heads').createIndex('queue', 'queue', { unique: true });
    for (const name of ['meta', 'segments', 'chunks', 'quarantine']) db.createObjectStore(name);
    for (const [name, rows] of Object.entries(records)) for (const [key, value] of rows) open.transaction!.objectStore(name).put(value, key);
  };
  (await request(open)).close();
}

describe('schema', () => {
  // One entry per schema version ever released: how a database of that version is made, with queues in it, and what
  // they hold. When VERSION moves on, the entry for the old version is rewritten with plain IndexedDB calls of its layout.
  const released: { version: number; make(factory: IDBFactory): Promise<void>; holds: Record<string, unknown[]> }[] = [
    { version: 1, make: (factory) => make(factory, 1, version1), holds: { q: ['b', 'c', 'd', 'e', 'f'], other: [{ n: 1 }] } },
    {
      version: 2,
      async make(factory) {
        const q = await Queue.open<string>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }), segmentItems: 2 });
        await q.pushMany(['a', 'b']);
        for (const item of ['c', 'd', 'e']) await q.push(item);
        await (await q.take(1))!.ack();
        await q.close();
      },
      holds: { q: ['b', 'c', 'd', 'e'] },
    },
  ];

  it('every version ever released is upgraded to the current one, keeping its queues', async () => {
    expect(released.map((r) => r.version)).toEqual(Array.from({ length: VERSION }, (_, i) => i + 1));
    for (const { make, holds } of released) {
      const factory = new IDBFactory();
      await make(factory);
      const store = new IndexedDbStore({ indexedDB: factory });
      for (const [name, items] of Object.entries(holds)) {
        const q = await Queue.open<unknown>({ name, store, segmentItems: 2 });
        expect(await q.peek(10)).toEqual(items);
        // And it goes on working: a push lands after them, and everything drains once.
        await q.push('more');
        const lease = await q.take(10);
        expect(lease!.entries.map((e) => e.value)).toEqual([...items, 'more']);
        await lease!.ack();
        expect(await q.size()).toBe(0);
        await q.close();
      }
      const db = await request(factory.open('sluice'));
      expect(db.version).toBe(VERSION);
      db.close();
    }
  });

  it('version 2 keeps the tail length in `segments`, not in the head', async () => {
    const factory = new IDBFactory();
    await make(factory, 1, version1);
    await (await new IndexedDbStore({ indexedDB: factory }).open('q')).close();
    expect(await dump(factory, 'sluice', 'heads')).toEqual([
      { key: ['other', 1], value: { queue: 'other', version: 1 } },
      { key: ['q', 8], value: { queue: 'q', version: 8 } },
    ]);
    expect((await dump(factory, 'sluice', 'segments')).map((r) => r.value)).toEqual([
      { id: 0, length: 15 },
      { id: 0, length: 22 },
      { id: 2, length: 22 },
      { id: 4, length: 22 },
    ]);
  });

  it('a new database gets every upgrade step in order', async () => {
    const factory = new IDBFactory();
    await (await new IndexedDbStore({ indexedDB: factory }).open('q')).close();
    const db = await request(factory.open('sluice'));
    expect(db.version).toBe(VERSION);
    expect(upgrades).toHaveLength(VERSION);
    expect([...db.objectStoreNames].sort()).toEqual([...STORES]);
    expect(db.transaction('heads').objectStore('heads').index('queue').unique).toBe(true);
    db.close();
  });
});

describe('a database that is not sluice\'s', () => {
  /** Makes database "sluice" at `version` with one object store of another library's, holding a record. */
  async function foreign(version: number): Promise<IDBFactory> {
    const factory = new IDBFactory();
    const open = factory.open('sluice', version);
    open.onupgradeneeded = () => open.result.createObjectStore('keyval').put('theirs', 'key');
    (await request(open)).close();
    return factory;
  }

  async function untouched(factory: IDBFactory, version: number): Promise<void> {
    const db = await request(factory.open('sluice'));
    expect(db.version).toBe(version);
    expect([...db.objectStoreNames]).toEqual(['keyval']);
    db.close();
    expect(await dump(factory, 'sluice', 'keyval')).toEqual([{ key: 'key', value: 'theirs' }]);
  }

  for (const version of [1, VERSION]) {
    it(`at version ${version}: ERR_INCOMPATIBLE_STORE naming the database and what is in it; nothing written`, async () => {
      const factory = await foreign(version);
      const opening = Queue.open({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
      await expect(opening).rejects.toMatchObject({ code: 'ERR_INCOMPATIBLE_STORE', message: expect.stringMatching(new RegExp(`"sluice".*version ${version} with the object stores "keyval"`)) });
      await untouched(factory, version);
    });
  }

  it('at a newer version (a newer sluice, or another library): ERR_INCOMPATIBLE_STORE, not a raw VersionError', async () => {
    const factory = await foreign(VERSION + 5);
    const error = await new IndexedDbStore({ indexedDB: factory }).open('q').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SluiceError', code: 'ERR_INCOMPATIBLE_STORE', message: expect.stringContaining('"sluice"') });
    expect((error as Error).cause).toMatchObject({ name: 'VersionError' });
    await untouched(factory, VERSION + 5);
  });
});

describe('an empty database of that name (an `indexedDB.open(name)` without a version, by devtools or another script)', () => {
  /** Makes database `name` as such a probe leaves it: version 1, no object stores. */
  async function probed(factory: IDBFactory, name: string): Promise<void> {
    const db = await request(factory.open(name));
    expect([db.version, db.objectStoreNames.length]).toEqual([1, 0]);
    db.close();
  }

  it('"sluice": taken as new, its layout made; the queue works', async () => {
    const factory = new IDBFactory();
    await probed(factory, 'sluice');
    const q = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: factory }) });
    await q.push(1);
    expect(await q.peek()).toEqual([1]);
    await q.close();
    const db = await request(factory.open('sluice'));
    expect([db.version, [...db.objectStoreNames].sort()]).toEqual([VERSION, [...STORES]]);
    db.close();
  });

  it('"sluice.blobs": taken as new, its layout made; blob calls work', async () => {
    const factory = new IDBFactory();
    await probed(factory, 'sluice.blobs');
    const blobs = (await new IndexedDbStore({ indexedDB: factory }).open('q')).blobs!;
    await blobs.write('k', 0, Uint8Array.of(1, 2), 'relaxed');
    expect(await blobs.read('k', 0, 2)).toEqual(Uint8Array.of(1, 2));
    expect(await blobs.keys()).toEqual(['k']);
  });
});

describe('the blobs database ("<dbName>.blobs")', () => {
  it('as version 1 left it: upgraded, keeping its blobs', async () => {
    const factory = new IDBFactory();
    const open = factory.open('sluice.blobs', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('chunks').put(Uint8Array.of(7, 8), ['q', 'k', 0]);
    (await request(open)).close();
    const blobs = (await new IndexedDbStore({ indexedDB: factory }).open('q')).blobs!;
    expect(await blobs.read('k', 0, 2)).toEqual(Uint8Array.of(7, 8));
  });

  it("another library's under that name: ERR_INCOMPATIBLE_STORE from blob calls, and left untouched", async () => {
    const factory = new IDBFactory();
    const open = factory.open('sluice.blobs', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('keyval').put('theirs', 'key');
    (await request(open)).close();
    const blobs = (await new IndexedDbStore({ indexedDB: factory }).open('q')).blobs!;
    await expect(blobs.write('k', 0, Uint8Array.of(1), 'relaxed')).rejects.toMatchObject({
      code: 'ERR_INCOMPATIBLE_STORE',
      message: expect.stringMatching(/"sluice.blobs" is not a sluice database.*"keyval"/),
    });
    await expect(blobs.keys()).rejects.toMatchObject({ code: 'ERR_INCOMPATIBLE_STORE' });
    expect(await dump(factory, 'sluice.blobs', 'keyval')).toEqual([{ key: 'key', value: 'theirs' }]);
  });

  it('at a newer version: ERR_INCOMPATIBLE_STORE, not a raw VersionError', async () => {
    const factory = new IDBFactory();
    const open = factory.open('sluice.blobs', 9);
    open.onupgradeneeded = () => open.result.createObjectStore('chunks');
    (await request(open)).close();
    const blobs = (await new IndexedDbStore({ indexedDB: factory }).open('q')).blobs!;
    const error = await blobs.keys().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SluiceError', code: 'ERR_INCOMPATIBLE_STORE', message: expect.stringContaining('"sluice.blobs"') });
    expect((error as Error).cause).toMatchObject({ name: 'VersionError' });
  });
});
