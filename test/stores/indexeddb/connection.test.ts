import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
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

  it('{ blockedTimeoutMs } is checked: an integer >= 0, or Infinity', () => {
    expect(() => new IndexedDbStore({ blockedTimeoutMs: -1 })).toThrow(/Expected `blockedTimeoutMs` to be an integer >= 0 \(or Infinity\), got -1/);
    expect(() => new IndexedDbStore({ blockedTimeoutMs: '5' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});
