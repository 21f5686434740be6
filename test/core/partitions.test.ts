import 'fake-indexeddb/auto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore, Queue, SluiceError, type Store } from '../../src/index.js';
import { IDBFactory } from 'fake-indexeddb';
import { hash, partitionName } from '../../src/core/partitioned.js';
import { FileStore } from '../../src/stores/fs/file-store.js';
import { IndexedDbStore } from '../../src/stores/indexeddb/indexeddb-store.js';
import { FakeClock } from '../support/fake-clock.js';

interface Item {
  key: string;
  n: number;
}

for (const [label, makeStore] of [
  ['MemoryStore', () => new MemoryStore()],
  ['FileStore', (dir: string) => new FileStore({ dir })],
  ['IndexedDbStore', () => new IndexedDbStore({ indexedDB: new IDBFactory() })],
] as const) {
  describe(`Queue.open({ partitions }) on ${label}`, () => {
    let dir: string;
    let store: Store;
    let clock: FakeClock;
    const open = (partitions: number, from: Store = store) => Queue.open<Item>({ name: 'jobs', store: from, clock, partitions });

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-partitions-'));
      store = makeStore(dir);
      clock = new FakeClock();
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps order per key, takes from every partition, and hands out each item once', async () => {
      const q = await open(4);
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      for (let n = 0; n < 60; n++) await q.push({ key: keys[n % keys.length]!, n }, { key: keys[n % keys.length] });
      expect(await q.size()).toBe(60);
      const seen: Item[] = [];
      for (let lease = await q.take(7); lease; lease = await q.take(7)) {
        seen.push(...lease.entries.map((e) => e.value));
        await lease.ack();
      }
      expect(seen.map((i) => i.n).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, n) => n));
      for (const key of keys) {
        const ns = seen.filter((i) => i.key === key).map((i) => i.n);
        expect(ns).toEqual([...ns].sort((x, y) => x - y));
      }
      expect(await q.size()).toBe(0);
      await q.close();
    });

    it('spreads keyless pushes over the partitions, and entry ids work for list, remove, ack and release', async () => {
      const q = await open(3);
      const ids = await Promise.all(Array.from({ length: 6 }, (_, n) => q.push({ key: '', n })));
      expect(new Set(ids).size).toBe(6);
      expect((await q.list()).map((e) => e.id).sort()).toEqual([...ids].sort());
      expect(await q.list({ ids: [ids[4]!] })).toMatchObject([{ id: ids[4], value: { n: 4 } }]);
      expect(q.partitions).toBe(3);
      const second = await q.list({ partition: 1 });
      expect(second.length).toBe(2);
      expect(await q.list({ partition: 1, after: second[0]!.id })).toEqual([second[1]]);
      // `ids` name the entries, as with `take`: `after` beside them was honoured in part (partitions before its own
      // skipped, its own given whole), so what came back depended on where the ids lay.
      await expect(q.list({ ids: [ids[0]!, second[1]!.id], after: second[0]!.id })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`after`') });
      const chosen = (await q.take(10, { ids: [ids[2]!, ids[5]!] }))!;
      expect(chosen.entries.map((e) => e.id).sort()).toEqual([ids[2], ids[5]].sort());
      await chosen.release(undefined, { delayMs: 60_000 });
      // A delay is brought forward by entry id, whatever partition holds the entry.
      const asked: string[] = [];
      const early = (await q.take(10, { ids: [ids[2]!, ids[5]!], early: ({ id }) => asked.push(id) > 0 && id === ids[5] }))!;
      expect(early.entries.map((e) => e.id)).toEqual([ids[5]]);
      expect(asked.sort()).toEqual([ids[2], ids[5]].sort());
      await early.release();
      await (await q.take(10, { ids: [ids[2]!], early: true }))!.release();
      expect(await q.remove([ids[0]!])).toBe(1);
      const lease = (await q.take(10))!;
      expect(lease.entries).toHaveLength(5);
      await lease.release([ids[1]!]);
      await lease.ack(lease.entries.map((e) => e.id).filter((id) => id !== ids[1]));
      expect((await q.list()).map((e) => e.id)).toEqual([ids[1]]);
      expect(await q.stats()).toMatchObject({ size: 1, leased: 0 });
      await q.close();
    });

    it('.ack() of a lease spanning partitions that rejects ERR_LEASE_EXPIRED acks none of its items', async () => {
      const a = await open(2);
      const b = await open(2, label === 'FileStore' ? makeStore(dir) : store);
      await a.push({ key: 'x', n: 0 }, { key: 'x' });
      await a.push({ key: 'y', n: 1 }, { key: 'y' });
      const lease = (await a.take(2, { leaseMs: 100 }))!;
      const [first, second] = lease.entries.map((e) => e.id);
      expect(new Set([first, second].map((id) => Math.floor(Number(id) / 2 ** 40))).size).toBe(2);
      clock.advance(200);
      // The lease ran out, and another handle took one of its items.
      expect((await b.take(1, { ids: [second!] }))!.entries.map((e) => e.id)).toEqual([second]);
      const error = await lease.ack().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
      expect((await a.list()).map((e) => [e.id, e.state])).toEqual([
        [first, 'ready'],
        [second, 'leased'],
      ]);
      await a.close();
      await b.close();
    });

    it('.take() that rejects after some partitions were taken from (a filter throws in the second) leaves nothing leased', async () => {
      const q = await open(2);
      await q.push({ key: 'x', n: 0 }, { key: 'x' });
      await q.push({ key: 'y', n: 1 }, { key: 'y' });
      const before = await q.list();
      let seen = 0;
      // The filter meets the second partition's item after the first partition's take committed.
      const filter = () => {
        if (++seen === 2) throw new Error('filter failed');
        return true;
      };
      await expect(q.take(10, { filter })).rejects.toThrow('filter failed');
      expect(seen).toBe(2);
      expect(await q.list()).toEqual(before);
      expect(await q.stats()).toMatchObject({ size: 2, leased: 0 });
      await q.close();
    });

    it('.take() aborted after a partition committed its part resolves what it took (nothing is left leased to nobody)', async () => {
      const q = await open(2);
      await q.push({ key: 'x', n: 0 }, { key: 'x' });
      await q.push({ key: 'y', n: 1 }, { key: 'y' });
      const aborting = new AbortController();
      let seen = 0;
      // The filter meets the second partition's item after the first partition's take committed.
      const filter = () => (++seen === 2 && aborting.abort(), true);
      const lease = (await q.take(10, { signal: aborting.signal, filter }))!;
      expect(seen).toBe(2);
      expect(lease.entries).toHaveLength(1);
      expect((await q.list()).map((e) => e.state).sort()).toEqual(['leased', 'ready']);
      await lease.ack();
      expect(await q.stats()).toMatchObject({ size: 1, leased: 0 });
      // Aborted before anything committed, it rejects with the signal's reason.
      await expect(q.take(10, { signal: aborting.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(await q.stats()).toMatchObject({ size: 1, leased: 0 });
      await q.close();
    });

    it('two handles drain a partitioned queue together, every item exactly once', async () => {
      const a = await open(4);
      const b = await open(4, label === 'FileStore' ? makeStore(dir) : store);
      await a.pushMany(Array.from({ length: 20 }, (_, n) => ({ key: 'x', n })));
      for (let n = 20; n < 100; n++) await (n % 2 ? a : b).push({ key: String(n % 5), n }, { key: String(n % 5) });
      const got: number[] = [];
      for (;;) {
        const [la, lb] = [await a.take(5), await b.take(5)];
        if (!la && !lb) break;
        for (const lease of [la, lb]) {
          if (!lease) continue;
          got.push(...lease.entries.map((e) => e.value.n));
          await lease.ack();
        }
      }
      expect(got.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, n) => n));
      await a.close();
      await b.close();
    });

    it('refuses another partition count while the queue holds items, and changes it once the queue is empty', async () => {
      const q = await open(4);
      await q.push({ key: 'k', n: 1 }, { key: 'k' });
      await q.close();
      const error = await open(2).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe('ERR_INVALID_OPTION');
      expect((error as SluiceError).message).toContain('partitions: 4');
      const again = await open(4);
      await (await again.take(1))!.ack();
      await again.close();
      const two = await open(2);
      await two.push({ key: 'k', n: 2 });
      await two.close();
      expect((await open(1).catch((e: unknown) => e)) as SluiceError).toMatchObject({ code: 'ERR_INVALID_OPTION' });
      if (label === 'FileStore') expect(readdirSync(dir).sort()).toEqual(['jobs', 'jobs.p1', 'jobs.p2', 'jobs.p3', 'jobs.pm']);
    });

    it('iterate wakes for a push to any partition', async () => {
      const q = await open(3);
      const abort = new AbortController();
      const got: number[] = [];
      const iterating = (async () => {
        for await (const lease of q.iterate({ signal: abort.signal })) {
          got.push(...lease.entries.map((e) => e.value.n));
          await lease.ack();
          if (got.length === 3) abort.abort();
        }
      })();
      for (let n = 0; n < 3; n++) await q.push({ key: String(n), n }, { key: String(n) });
      await iterating;
      expect(got.sort()).toEqual([0, 1, 2]);
      await q.close();
    });

    it("take() and iterate() find an item waiting in another handle's partition, whichever partition they visit first", async () => {
      const a = await open(4);
      const b = await open(4, label === 'FileStore' ? makeStore(dir) : store);
      // Both join at their first take; a renewal later each has read the other in, and owns two partitions.
      for (const q of [a, b]) await q.take(1);
      clock.advance(1300);
      for (const q of [a, b, a, b]) {
        await q.take(1);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const keys = [0, 1, 2, 3].map((p) => Array.from({ length: 99 }, (_, i) => `k${i}`).find((k) => hash(k) % 4 === p)!);
      for (const [p, key] of keys.entries()) await a.push({ key, n: p }, { key });
      // a fills up from its own partitions first and stops there: the others are b's.
      const mine = (await a.take(4))!;
      const own = mine.entries.map((e) => e.value.n);
      expect(own).toHaveLength(2);
      await mine.ack();
      const theirs = [0, 1, 2, 3].filter((p) => !own.includes(p));
      await (await b.take(4))!.ack();
      await a.push({ key: keys[theirs[0]!]!, n: 9 }, { key: keys[theirs[0]!] });
      // Each take starts at another of a's partitions, and goes on to another of b's: b's empty one, half the time.
      for (let i = 0; i < 4; i++) {
        const lease = await a.take(1);
        expect(lease?.entries.map((e) => e.value.n)).toEqual([9]);
        await lease!.release();
      }
      const abort = new AbortController();
      const iterated = a.iterate({ max: 1, signal: abort.signal })[Symbol.asyncIterator]();
      for (let i = 0; i < 4; i++) {
        const { value } = await iterated.next();
        expect(value?.entries.map((e) => e.value.n)).toEqual([9]);
        await value!.release();
      }
      abort.abort();
      await a.close();
      await b.close();
    });

    it('a queue of one partition gives the ids it always gave, and a key changes nothing', async () => {
      const q = await open(1);
      expect(await q.pushMany([{ key: 'a', n: 0 }], { key: 'a' })).toEqual(['0']);
      expect(await q.push({ key: 'b', n: 1 })).toBe('1');
      await q.close();
    });
  });
}

describe('damage in a partition past the first, told in messages', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-partitions-damage-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("ERR_CORRUPT names the partition and the lost items by their entries' ids, as the 'corrupt' event does", async () => {
    const store = new FileStore({ dir });
    const q = await Queue.open<number>({ name: 'q', store, partitions: 4 });
    for (let n = 0; n < 40; n++) await q.push(n);
    await q.close();
    const p2 = join(dir, partitionName('q', 2));
    for (const file of readdirSync(p2).filter((f) => f.endsWith('.seg'))) rmSync(join(p2, file));
    const error = (await Queue.open<number>({ name: 'q', store, partitions: 4 }).catch((e: unknown) => e)) as SluiceError;
    expect(error.code).toBe('ERR_CORRUPT');
    const first = String(2 * 2 ** 40);
    expect(error.message).toMatch(new RegExp(`^10 unacked items of queue "q" \\(partition 2\\) \\(ids ${first} to ${2 * 2 ** 40 + 9}\\) are in no segment`));
    // The ids named are no other partition's: partition 0's items 0 to 9 are there, and not lost.
    const skip = await Queue.open<number>({ name: 'q', store, partitions: 4, corruption: 'skip' });
    expect((await skip.list({ ids: ['0', '9'] })).map((e) => e.id)).toEqual(['0', '9']);
    expect(await skip.list({ ids: [first] })).toEqual([]);
    await skip.close();
  });
});
