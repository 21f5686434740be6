import 'fake-indexeddb/auto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore, Queue, SluiceError, type Store } from '../../src/index.js';
import type { RecoverDetail } from '../../src/core/events.js';
import type { HeldStorage, QueueStorage, StorageBatch } from '../../src/core/store.js';
import { frameText } from '../../src/core/frame.js';
import { MetaLog } from '../../src/core/meta-log.js';
import { hash, partitionName } from '../../src/core/partitioned.js';
import { QueueState } from '../../src/core/queue-state.js';
import { FileStore } from '../../src/stores/fs/file-store.js';
import { IndexedDbStore } from '../../src/stores/indexeddb/indexeddb-store.js';
import { IDBFactory } from 'fake-indexeddb';
import { FakeClock } from '../support/fake-clock.js';

interface Item {
  n: number;
}

/** Replaces the metadata of `name` with `bytes`, as a writer of another version (or damage) would leave it. */
async function putMeta(store: Store, name: string, bytes: Uint8Array): Promise<void> {
  const storage = await store.open(name);
  try {
    const { token } = await storage.load();
    expect(await storage.commit(token, { meta: bytes, durability: 'relaxed' })).toBeDefined();
  } finally {
    await storage.close();
  }
}

/** A checkpoint as sluice wrote it before every partition recorded the count: `k` is 1 where nothing set it. */
const oldCheckpoint = (k: number) => frameText(JSON.stringify({ v: 2, gen: 'old', head: 0, next: 0, k, acked: [], attempts: [], holds: [] }));

/** The partition count that the metadata of `name` records. */
async function recordedIn(store: Store, name: string): Promise<number | undefined> {
  const storage = await store.open(name);
  try {
    return new MetaLog().read((await storage.load()).meta, new QueueState(), 0).state.partitions;
  } finally {
    await storage.close();
  }
}

/** `store`, but from the first commit tried to `name` on, every commit fails: a process that died there. */
function dyingAt(store: Store, name: string): Store {
  let dead = false;
  const commit = (n: string, to: Pick<QueueStorage, 'commit'>, token: string, batch: StorageBatch) => {
    dead ||= n === name;
    return dead ? Promise.reject(new Error('the process died')) : to.commit(token, batch);
  };
  return {
    async open(n) {
      const s = await store.open(n);
      return {
        load: () => s.load(),
        token: () => s.token(),
        read: (segment, start, end) => s.read(segment, start, end),
        close: () => s.close(),
        commit: (token, batch) => commit(n, s, token, batch),
        ...(s.exclusive && {
          exclusive: <R>(fn: (held: HeldStorage) => Promise<R>) =>
            s.exclusive!((held) => fn({ load: () => held.load(), commit: (token, batch) => commit(n, held, token, batch) })),
        }),
      };
    },
  };
}

const codeOf = (error: unknown) => (error instanceof SluiceError ? error.code : error);

for (const [label, makeStore] of [
  ['MemoryStore', () => new MemoryStore()],
  ['FileStore', (dir: string) => new FileStore({ dir })],
  ['IndexedDbStore', () => new IndexedDbStore({ indexedDB: new IDBFactory() })],
] as const) {
  describe(`partition count on ${label}`, () => {
    let dir: string;
    let store: Store;
    let clock: FakeClock;
    /** Another handle: on FileStore through a store of its own, as another process would. */
    const other = () => (label === 'FileStore' ? makeStore(dir) : store);
    const open = (partitions: number, from: Store = store) => Queue.open<Item>({ name: 'jobs', store: from, clock, partitions });

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-count-'));
      store = makeStore(dir);
      clock = new FakeClock();
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** Loses partition 0's metadata: deleted on FileStore, unreadable on MemoryStore (both lose the count). */
    async function loseFirstMeta(): Promise<void> {
      if (label === 'FileStore') rmSync(join(dir, 'jobs', 'meta'));
      else await putMeta(store, 'jobs', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    }

    it('push and take of a handle opened with the old count reject once another handle changed it', async () => {
      const old = await open(4);
      const fewer = await open(2, other());
      expect(fewer.partitions).toBe(2);
      for (const p of [0, 1, 2, 3]) expect(await recordedIn(store, partitionName('jobs', p))).toBe(2);
      const pushed = await Promise.allSettled([1, 2, 3, 4].map((n) => old.push({ n })));
      for (const result of pushed) {
        expect(result.status).toBe('rejected');
        expect(codeOf((result as PromiseRejectedResult).reason)).toBe('ERR_INVALID_OPTION');
      }
      expect((pushed[0] as PromiseRejectedResult).reason.message).toContain('partitions: 2');
      expect(codeOf(await old.take(1).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      await old.close();
      await fewer.close();
    });

    it("a handle opened with the old count is refused its reads, remove and clear once another handle grew the count", async () => {
      // They read the partitions it knew only: size and list showed part of the queue, clear() left the items of the
      // new partitions, remove() said 0 of an item there.
      const old = await open(2);
      const more = await open(4, other());
      const ids = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((key, n) => more.push({ n }, { key })));
      const far = ids.find((id) => Number(id) >= 2 * 2 ** 40)!;
      for (const call of [() => old.size(), () => old.stats(), () => old.peek(10), () => old.list(), () => old.remove([far]), () => old.clear()]) {
        const error = await call().catch((e: unknown) => e);
        expect(codeOf(error)).toBe('ERR_INVALID_OPTION');
        expect((error as Error).message).toContain('partitions: 4');
      }
      expect(await more.size()).toBe(8);
      await old.close();
      await more.close();
    });

    it('nothing an old handle pushes after the change is hidden from handles with the new count', async () => {
      const old = await open(3);
      const more = await open(5, other());
      const results = await Promise.allSettled(Array.from({ length: 9 }, (_, n) => old.push({ n })));
      await Promise.allSettled(Array.from({ length: 9 }, (_, n) => old.push({ n }, { key: `k${n}` })));
      await old.close();
      const stored = results.filter((r) => r.status === 'fulfilled').length;
      await more.close();
      const again = await open(5);
      expect(await again.size()).toBe(stored);
      expect(stored).toBe(0);
      await again.close();
    });

    it('a count change refused because the queue holds items leaves old handles working', async () => {
      const old = await open(4);
      await old.push({ n: 1 }, { key: 'a' });
      expect(codeOf(await open(2, other()).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      for (let n = 0; n < 8; n++) await old.push({ n });
      expect(await old.size()).toBe(9);
      await old.close();
      const again = await open(4);
      expect(await again.size()).toBe(9);
      await again.close();
    });

    it('a count change racing pushes of an old handle either refuses or makes those pushes reject', async () => {
      for (let delay = 0; delay < 12; delay++) {
        const name = `race${delay}`;
        const old = await Queue.open<Item>({ name, store, clock, partitions: 4 });
        const pushes = (async () => {
          for (let i = 0; i < delay; i++) await Promise.resolve();
          return Promise.allSettled(Array.from({ length: 8 }, (_, n) => old.push({ n })));
        })();
        const opening = Queue.open<Item>({ name, store: other(), clock, partitions: 2 }).catch((e: unknown) => e);
        const [results, opened] = await Promise.all([pushes, opening]);
        const stored = results.filter((r) => r.status === 'fulfilled').length;
        await old.close();
        if (opened instanceof Queue) await opened.close();
        else expect(codeOf(opened)).toBe('ERR_INVALID_OPTION');
        const count = opened instanceof Queue ? 2 : 4;
        const again = await Queue.open<Item>({ name, store, clock, partitions: count });
        expect(await again.size()).toBe(stored);
        await again.close();
      }
    });

    it('a change of count racing an open with the old count hides nothing that either pushes', async () => {
      for (let delay = 0; delay < 12; delay++) {
        const name = `race${delay}`;
        const made = await Queue.open<Item>({ name, store, clock, partitions: 4 });
        await made.close();
        const opening = (partitions: number, wait: number) =>
          (async () => {
            for (let i = 0; i < wait; i++) await Promise.resolve();
            return Queue.open<Item>({ name, store: other(), clock, partitions });
          })().catch((e: unknown) => e);
        const handles = await Promise.all([opening(2, 0), opening(4, delay)]);
        let stored = 0;
        for (const handle of handles) {
          if (!(handle instanceof Queue)) {
            expect(codeOf(handle)).toBe('ERR_INVALID_OPTION');
            continue;
          }
          const results = await Promise.allSettled(Array.from({ length: 8 }, (_, n) => handle.push({ n })));
          stored += results.filter((r) => r.status === 'fulfilled').length;
        }
        for (const handle of handles) if (handle instanceof Queue) await handle.close();
        const count = (await recordedIn(store, name))!;
        const again = await Queue.open<Item>({ name, store, clock, partitions: count });
        expect(await again.size()).toBe(stored);
        await again.close();
      }
    });

    it('partition 0 without its metadata learns the count from partition 1: open with it sees every item', async () => {
      const q = await open(4);
      await q.pushMany([{ n: 0 }, { n: 1 }], { key: 'a' });
      for (let n = 2; n < 10; n++) await q.push({ n });
      await q.close();
      await loseFirstMeta();
      const recovered: RecoverDetail[] = [];
      const again = await open(4);
      again.addEventListener('recover', (e) => recovered.push(e.detail));
      clock.advance(1);
      expect(recovered.map((d) => d.kind)).toEqual(again.recovered.map((d) => d.kind));
      expect(again.partitions).toBe(4);
      expect(await again.size()).toBe(10);
      expect(again.recovered.map((d) => d.kind)).toContain(label === 'FileStore' ? 'meta-missing' : 'meta');
      await again.close();
    });

    it('partition 0 without its metadata: an open with partitions 1 is refused, naming the count and the repair', async () => {
      const q = await open(4);
      for (let n = 0; n < 8; n++) await q.push({ n });
      await q.close();
      await loseFirstMeta();
      const error = await open(1).catch((e: unknown) => e);
      expect(codeOf(error)).toBe('ERR_INVALID_OPTION');
      expect((error as Error).message).toContain('partitions: 4');
      expect((error as Error).message).toContain(`"kind":"${label === 'FileStore' ? 'meta-missing' : 'meta'}"`);
      const again = await open(4);
      expect(await again.size()).toBe(8);
      await again.close();
    });

    it('partition 0 emptied, then without its metadata: an open with partitions 1 is refused all the same', async () => {
      const q = await open(4);
      const ids = await Promise.all([0, 1, 2, 3].map((n) => q.push({ n })));
      expect(await q.remove([ids[0]!])).toBe(1);
      await q.close();
      await loseFirstMeta();
      const error = await open(1).catch((e: unknown) => e);
      expect(codeOf(error)).toBe('ERR_INVALID_OPTION');
      expect((error as Error).message).toContain('partitions: 4');
      const again = await open(4);
      expect(await again.size()).toBe(3);
      await again.close();
    });

    it('a queue of one partition (which records no count) is refused another count while it holds items, and changes once empty', async () => {
      // A key that a queue of two partitions places in the second: its items pushed before would stay in the first.
      const key = ['a', 'b', 'c', 'd'].find((k) => hash(k) % 2 === 1)!;
      const one = await open(1);
      await one.push({ n: 1 }, { key });
      await one.push({ n: 2 }, { key });
      const error = await open(2, other()).catch((e: unknown) => e);
      expect(codeOf(error)).toBe('ERR_INVALID_OPTION');
      expect((error as Error).message).toContain('partitions: 1');
      // IndexedDbStore cannot tell what exists: it opens the second partition to look.
      if (label !== 'IndexedDbStore') expect(label === 'FileStore' ? readdirSync(dir) : (store as MemoryStore).names()).toEqual(['jobs']);
      expect(await one.size()).toBe(2);
      await (await one.take(2))!.ack();
      const two = await open(2, other());
      // The handle still open with one partition would now store where handles with two do not look for its key.
      expect(codeOf(await one.push({ n: 3 }, { key }).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      await two.push({ n: 3 }, { key });
      expect(codeOf(await open(1, other()).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      await one.close();
      await two.close();
    });

    it('a queue of one partition that lost its metadata opens as one, and no storage is made beside it', async () => {
      const q = await open(1);
      for (let n = 0; n < 3; n++) await q.push({ n });
      await q.close();
      await loseFirstMeta();
      const again = await open(1);
      expect(await again.size()).toBe(3);
      expect(again.recovered).toHaveLength(1);
      await again.close();
      // IndexedDbStore cannot tell what exists: it opens the second partition to look.
      if (label === 'IndexedDbStore') return;
      const names = label === 'FileStore' ? readdirSync(dir) : (store as MemoryStore).names();
      expect(names).toEqual(['jobs']);
    });

    for (const shrunk of [false, true]) {
      it(`a queue of one partition${shrunk ? ' (shrunk from 4)' : ''} that lost its metadata is refused another count while it holds items`, async () => {
        // Let in, its keys' newer items went to other partitions, taken before the older ones left in the first.
        if (shrunk) await (await open(4)).close();
        const q = await open(1);
        for (let n = 0; n < 3; n++) await q.push({ n }, { key: 'a' });
        await q.close();
        await loseFirstMeta();
        const error = await open(4).catch((e: unknown) => e);
        expect(codeOf(error)).toBe('ERR_INVALID_OPTION');
        expect((error as Error).message).toContain('partitions: 1');
        const again = await open(1);
        expect((await again.list()).map((e) => e.value.n)).toEqual([0, 1, 2]);
        await again.close();
      });
    }

    it('a push to a partition whose record of the count was lost (its storage wiped) records it again first, in every partition', async () => {
      // A Redis restarted empty: an open with another count, finding none either, was let in, and this push sat where
      // that count no longer looked, never handed out.
      const key = ['a', 'b', 'c', 'd', 'e', 'f'].find((k) => hash(k) % 4 === 2)!;
      const q = await open(4);
      await q.push({ n: 0 }, { key });
      await (await q.take(1))!.ack();
      for (const p of [0, 2]) await putMeta(store, partitionName('jobs', p), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
      await q.push({ n: 1 }, { key });
      for (const p of [0, 1, 2, 3]) expect(await recordedIn(store, partitionName('jobs', p))).toBe(4);
      expect(codeOf(await open(2, other()).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      expect((await q.list()).map((e) => e.value.n)).toEqual([1]);
      await q.close();
    });

    it('a change of count cut short before the first partition recorded it: an open with the old count puts every partition right', async () => {
      const q = await open(4);
      await q.close();
      const error = await open(2, dyingAt(other(), 'jobs')).catch((e: unknown) => e);
      expect(codeOf(error)).toBe('ERR_STORAGE');
      expect(await recordedIn(store, 'jobs')).toBe(4);
      expect(await recordedIn(store, 'jobs.p1')).toBe(2);
      const again = await open(4);
      await Promise.all(Array.from({ length: 8 }, (_, n) => again.push({ n })));
      expect(await again.size()).toBe(8);
      const lease = (await again.take(8))!;
      expect(lease.entries).toHaveLength(8);
      await lease.release();
      expect(codeOf(await open(2, other()).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      await again.close();
    });

    it('a live handle refused by a change cut short goes on once the count is put right: refused on a view read again, not for good', async () => {
      const key = ['a', 'b', 'c', 'd', 'e', 'f'].find((k) => hash(k) % 4 === 1)!;
      const live = await open(4);
      await live.push({ n: 0 }, { key });
      await (await live.take(1))!.ack();
      // Partition 1 marked 2 by a change that died there: the live handle's push to it is refused, as it should be.
      expect(codeOf(await open(2, dyingAt(other(), 'jobs')).catch((e: unknown) => e))).toBe('ERR_STORAGE');
      expect(codeOf(await live.push({ n: 1 }, { key }).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      // An open with the old count puts it right: the live handle's next push goes, without a read of its own first.
      await (await open(4, other())).close();
      await live.push({ n: 2 }, { key });
      expect((await live.list()).map((e) => e.value.n)).toEqual([2]);
      await live.close();
    });

    it('a queue whose partitions past the first recorded no count (made before they did) opens and works', async () => {
      const q = await open(3);
      await q.close();
      await putMeta(store, partitionName('jobs', 0), oldCheckpoint(3));
      for (const p of [1, 2]) await putMeta(store, partitionName('jobs', p), oldCheckpoint(1));
      const again = await open(3);
      const ids = await Promise.all(Array.from({ length: 6 }, (_, n) => again.push({ n })));
      expect(ids).toHaveLength(6);
      const lease = (await again.take(6))!;
      expect(lease.entries).toHaveLength(6);
      await lease.release();
      await again.close();
      expect(codeOf(await open(2).catch((e: unknown) => e))).toBe('ERR_INVALID_OPTION');
      const last = await open(3);
      expect(await last.size()).toBe(6);
      await last.close();
    });
  });
}
