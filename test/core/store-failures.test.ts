import { describe, expect, it } from 'vitest';
import { MemoryStore, Queue, SluiceError, type Store } from '../../src/index.js';
import { PARTITION_SPAN } from '../../src/core/ids.js';
import { FileStore } from '../../src/stores/fs/file-store.js';
import { FaultyStore } from '../support/faulty-store.js';
import { FakeClock } from '../support/fake-clock.js';
import { localStores, tempDirs } from '../support/local-stores.js';

const tempDir = tempDirs('sluice-failures-');
const stores = localStores('sluice-failures-', tempDir);

const partitionOf = (id: string) => Math.floor(Number(id) / PARTITION_SPAN);

/** A queue of two partitions with one item in each, on a store that fails when told. */
async function twoPartitions(inner: Store) {
  const store = new FaultyStore(inner);
  const clock = new FakeClock();
  const q = await Queue.open<string>({ name: 'jobs', store, partitions: 2, clock });
  // 'y' goes to partition 0, 'x' to partition 1.
  const ids = [await q.push('p0', { key: 'y' }), await q.push('p1', { key: 'x' })];
  expect(ids.map(partitionOf)).toEqual([0, 1]);
  return { store, q, ids, clock };
}

const states = async (q: Queue<string>) => (await q.list()).map((e) => [e.value, e.state]);

for (const [label, make] of stores) {
  describe(`calls spanning partitions, on a ${label} that fails (fault 1)`, () => {
    it('a partition that cannot be read stops remove, clear, release and ack before any partition changed', async () => {
      const { store, q, ids } = await twoPartitions(make());
      for (const call of [() => q.remove(ids), () => q.clear()]) {
        store.fail('token', { storage: 'jobs.p1' });
        store.fail('load', { storage: 'jobs.p1' });
        await expect(call()).rejects.toMatchObject({ code: 'ERR_STORAGE' });
        store.heal();
        expect(await states(q)).toEqual([
          ['p0', 'ready'],
          ['p1', 'ready'],
        ]);
      }
      const lease = (await q.take(2))!;
      for (const call of [() => lease.release(), () => lease.ack()]) {
        store.fail('token', { storage: 'jobs.p1' });
        await expect(call()).rejects.toMatchObject({ code: 'ERR_STORAGE' });
        store.heal();
        expect(await states(q)).toEqual([
          ['p0', 'leased'],
          ['p1', 'leased'],
        ]);
      }
      await q.close();
    });

    for (const op of ['remove', 'clear', 'release', 'ack'] as const) {
      it(`${op}() whose commit fails in the second partition says the first is done, and the same call again does the rest`, async () => {
        const { store, q, ids } = await twoPartitions(make());
        const lease = op === 'release' || op === 'ack' ? (await q.take(2))! : undefined;
        const call = () => (op === 'remove' ? q.remove(ids) : op === 'clear' ? q.clear() : op === 'release' ? lease!.release() : lease!.ack());
        store.fail('commit', { storage: 'jobs.p1' });
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(SluiceError);
        expect(error).toMatchObject({ code: 'ERR_STORAGE', cause: expect.objectContaining({ message: 'commit failed' }) });
        const done = op === 'release' ? 'released' : op === 'ack' ? 'acked' : 'removed';
        expect((error as Error).message).toContain(`(partition 0 ${done} before this; partition 1 maybe: the same call again does the rest)`);
        expect(await states(q)).toEqual(op === 'release' ? [['p0', 'ready'], ['p1', 'leased']] : [['p1', op === 'ack' ? 'leased' : 'ready']]);
        // The same call again finds partition 0 done and does partition 1.
        const again = await call();
        if (op === 'remove') expect(again).toBe(1);
        expect(await states(q)).toEqual(op === 'release' ? [['p0', 'ready'], ['p1', 'ready']] : []);
        await q.close();
      });
    }
  });

  describe(`an expired lease's ack spanning partitions on a ${label}`, () => {
    it('that loses a later partition\'s items to another handle after its check says which it acked, and why the same call is refused again', async () => {
      const inner = make();
      const store = new FaultyStore(inner);
      const clock = new FakeClock();
      const q = await Queue.open<string>({ name: 'jobs', store, partitions: 2, clock });
      const other = await Queue.open<string>({ name: 'jobs', store: inner, partitions: 2, clock });
      const ids = [await q.push('p0', { key: 'y' }), await q.push('p1', { key: 'x' })];
      const lease = (await q.take(2, { leaseMs: 100 }))!;
      clock.advance(200);
      // Between the checks of both partitions and the first one's commit, the other handle takes partition 1's item.
      let stolen = false;
      store.beforeCommit = async (name) => {
        if (name !== 'jobs' || stolen) return;
        stolen = true;
        expect((await other.take(1, { ids: [ids[1]!] }))!.entries.map((e) => e.value)).toEqual(['p1']);
      };
      const error = await lease.ack().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_LEASE_EXPIRED', message: expect.stringContaining('(partition 0 acked before this; partition 1 not: another lease took its items after they were checked, and the same call again is refused while it holds them)') });
      expect(await states(q)).toEqual([['p1', 'leased']]);
      await expect(lease.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
      await q.close();
      await other.close();
    });
  });

  describe(`take() on a ${label}, aborted while it commits (fault 3)`, () => {
    it('of one partition: resolves the lease it committed, whose items ack', async () => {
      const store = new FaultyStore(make());
      const q = await Queue.open<number>({ name: 'jobs', store });
      await q.pushMany([1, 2]);
      const aborting = new AbortController();
      store.beforeCommit = () => aborting.abort();
      const lease = (await q.take(2, { signal: aborting.signal }))!;
      store.beforeCommit = undefined;
      expect(lease.entries.map((e) => e.value)).toEqual([1, 2]);
      expect(await q.stats()).toMatchObject({ size: 2, leased: 2 });
      await lease.ack();
      expect(await q.size()).toBe(0);
      await q.close();
    });

    it('of several: resolves what the partitions committed before the abort, and leaves the rest ready', async () => {
      const { store, q } = await twoPartitions(make());
      const aborting = new AbortController();
      store.beforeCommit = (name) => void (name === 'jobs' && aborting.abort());
      const lease = (await q.take(2, { signal: aborting.signal }))!;
      store.beforeCommit = undefined;
      expect(lease.entries.map((e) => e.value)).toEqual(['p0']);
      expect(await states(q)).toEqual([
        ['p0', 'leased'],
        ['p1', 'ready'],
      ]);
      await lease.ack();
      await q.close();
    });

    it('whose commit fails after it stored (a reply lost) gives the items back before it rejects', async () => {
      const store = new FaultyStore(make());
      const q = await Queue.open<number>({ name: 'jobs', store });
      await q.pushMany([1, 2]);
      store.fail('commit', { landed: true });
      await expect(q.take(2)).rejects.toMatchObject({ code: 'ERR_STORAGE' });
      expect(await q.stats()).toMatchObject({ size: 2, leased: 0 });
      expect((await q.take(2))!.entries.map((e) => [e.value, e.attempts])).toEqual([
        [1, 1],
        [2, 1],
      ]);
      await q.close();
    });

    it('whose commit fails after it stored and whose give-back fails too: the next take gives the items back, untried, and takes them', async () => {
      const store = new FaultyStore(make());
      const q = await Queue.open<number>({ name: 'jobs', store, leaseMs: 60_000 });
      const other = await Queue.open<number>({ name: 'jobs', store, leaseMs: 60_000 });
      await q.pushMany([1, 2]);
      store.fail('commit', { landed: true });
      store.fail('commit');
      await expect(q.take(2)).rejects.toMatchObject({ code: 'ERR_STORAGE' });
      expect(await q.stats()).toMatchObject({ size: 2, leased: 2 });
      // The take that finds them stored gives them back and takes them, at their first attempt, as other handles see.
      const lease = (await q.take(2))!;
      expect((await other.list()).map((e) => [e.value, e.state, e.attempts])).toEqual([
        [1, 'leased', 1],
        [2, 'leased', 1],
      ]);
      await other.close();
      expect(lease.entries.map((e) => [e.value, e.attempts])).toEqual([
        [1, 1],
        [2, 1],
      ]);
      await q.close();
    });

    it('of several, failing in the second partition after the first committed, gives the first partition\'s items back', async () => {
      const { store, q } = await twoPartitions(make());
      store.fail('commit', { storage: 'jobs.p1' });
      await expect(q.take(2)).rejects.toMatchObject({ code: 'ERR_STORAGE' });
      expect(await q.stats()).toMatchObject({ size: 2, leased: 0 });
      expect((await q.list()).map((e) => e.attempts)).toEqual([0, 0]);
      await q.close();
    });

    it('of several, where giving the first partition\'s items back fails too, says until when they may stay leased, and gives them back in the background', async () => {
      const { store, q, clock } = await twoPartitions(make());
      // The second partition's take fails, and so does the first's give-back after it.
      store.beforeCommit = (name) => void (name === 'jobs.p1' && store.fail('commit', { storage: 'jobs' }));
      store.fail('commit', { storage: 'jobs.p1' });
      const error = (await q.take(2).then(
        () => undefined,
        (e: unknown) => e,
      )) as Error;
      store.beforeCommit = undefined;
      store.heal();
      expect(error).toMatchObject({ code: 'ERR_STORAGE' });
      expect(error.message).toMatch(/\(1 item of partition 0 not given back yet: given back in the background, leased until .* at most\)/);
      expect(await q.stats()).toMatchObject({ leased: 1 });
      clock.advance(500);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await q.stats()).toMatchObject({ leased: 0 });
      await q.close();
      const again = await Queue.open<string>({ name: 'jobs', store, partitions: 2 });
      expect(await again.stats()).toMatchObject({ size: 2, leased: 0 });
      await again.close();
    });
  });

  describe(`shift() on a ${label} whose ack fails (fault 4)`, () => {
    /** A queue holding 7 whose next shift fails at its second commit (the ack), as `fault` says. */
    const ackFailing = async (fresh: () => Store, fault?: Parameters<FaultyStore['fail']>[1]) => {
      const store = new FaultyStore(fresh());
      const q = await Queue.open<number>({ name: 'jobs', store });
      await q.push(7);
      let commits = 0;
      store.beforeCommit = () => void (++commits === 2 && store.fail('commit', fault));
      return { store, q };
    };
    it('puts the item back, untried, and says so', async () => {
      const { store, q } = await ackFailing(make);
      const error = await q.shift().catch((e: unknown) => e as Error);
      store.beforeCommit = undefined;
      expect(error).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('(shift: the item was put back, untried)') });
      expect(await q.list()).toMatchObject([{ value: 7, state: 'ready', attempts: 0 }]);
      expect(await q.shift()).toBe(7);
      expect(await q.size()).toBe(0);
      await q.close();
    });

    it('resolves the item when the ack landed after all', async () => {
      const { store, q } = await ackFailing(make, { landed: true });
      expect(await q.shift()).toBe(7);
      store.beforeCommit = undefined;
      expect(await q.size()).toBe(0);
      await q.close();
    });

    // Its look for the item failing too, it put the item back (a release passes over one acked) and rejected: the
    // item was gone for good, the caller told it was put back, or leased.
    for (const fails of [1, 2]) {
      it(`resolves the item when the ack landed and ${fails} look(s) at the store failed after it`, async () => {
        const { store, q } = await ackFailing(make, { landed: true });
        const ack = store.beforeCommit!;
        store.beforeCommit = (name) => {
          ack(name);
          if (store.calls.get('jobs:commit') === 1) for (const method of ['token', 'load'] as const) store.fail(method, { times: fails });
        };
        const shifted = await q.shift().catch((e: unknown) => e);
        store.beforeCommit = undefined;
        store.heal();
        // Nothing lost: the caller has it, or the queue does (a FileStore reads the token after a failed commit, to
        // know whether it landed: that read failing fails the ack before its commit, which then never landed).
        const left = (await q.list()).map((e) => e.value);
        expect(shifted === 7 ? left : [shifted instanceof SluiceError, left]).toEqual(shifted === 7 ? [] : [true, [7]]);
        if (label === 'MemoryStore') expect(shifted).toBe(7);
        await q.close();
      });
    }

    it('that cannot put the item back either says until when it stays leased', async () => {
      const { store, q } = await ackFailing(make, { times: 2 });
      const error = await q.shift().catch((e: unknown) => e as Error);
      store.beforeCommit = undefined;
      expect(error).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/\(shift: the item was not put back: leased until .* or this handle closes\)/) });
      await q.close();
      const again = await Queue.open<number>({ name: 'jobs', store });
      expect(await again.shift()).toBe(7);
      await again.close();
    });
  });
}

describe('a store of the user\'s that throws raw errors (fault 2)', () => {
  const raw = () => new TypeError('the driver broke');

  for (const method of ['load', 'token', 'read', 'close'] as const) {
    it(`${method}(): the call rejects with a SluiceError whose cause is the raw error`, async () => {
      const inner = new MemoryStore();
      const seed = await Queue.open<number>({ name: 'q', store: inner });
      await seed.pushMany([1, 2, 3]);
      const store = new FaultyStore(inner);
      const error = raw();
      if (method === 'load') store.fail('load', { error });
      const q = await Queue.open<number>({ name: 'q', store }).catch((e: unknown) => e);
      if (method === 'load') {
        expect(q).toBeInstanceOf(SluiceError);
        expect(q).toMatchObject({ code: 'ERR_STORAGE', cause: error });
        return;
      }
      const queue = q as Queue<number>;
      // Another handle's push: the next read asks for the token, then reads what the tail gained.
      await seed.push(4);
      store.fail(method, { error });
      const failed = await (method === 'close' ? queue.close() : queue.peek(4)).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(SluiceError);
      expect(failed).toMatchObject({ code: 'ERR_STORAGE', cause: error });
      if (method !== 'close') expect(await queue.peek(4)).toEqual([1, 2, 3, 4]);
      await queue.close().catch(() => undefined);
      await seed.close();
    });
  }

  it('open() and exists(), and a full medium as ERR_QUOTA_EXCEEDED', async () => {
    const error = raw();
    const opening: Store = { open: () => Promise.reject(error) };
    await expect(Queue.open({ name: 'q', store: opening })).rejects.toMatchObject({ code: 'ERR_STORAGE', cause: error });
    const memory = new MemoryStore();
    const throwing: Store = {
      open: (name) => memory.open(name),
      exists: () => {
        throw error;
      },
    };
    await expect(Queue.open({ name: 'q', store: throwing })).rejects.toMatchObject({ code: 'ERR_STORAGE', cause: error });
    const full = Object.assign(new Error('no space left'), { code: 'ENOSPC' });
    const store = new FaultyStore(new MemoryStore());
    const q = await Queue.open<number>({ name: 'q', store });
    const b = await Queue.open<number>({ name: 'q', store });
    await b.push(1);
    store.fail('token', { error: full });
    await expect(q.size()).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED', cause: full });
    expect(await q.size()).toBe(1);
    await q.close();
    await b.close();
  });

  it('isGone(): a take that asks rejects with a SluiceError', async () => {
    const memory = new MemoryStore();
    const error = raw();
    let fail = false;
    const store: Store = {
      async open(name) {
        const s = await memory.open(name);
        const owner = Math.random().toString(36);
        return {
          load: () => s.load(),
          token: () => s.token(),
          read: (segment, start, end) => s.read(segment, start, end),
          commit: (token, batch) => s.commit(token, batch),
          close: () => s.close(),
          owner,
          isGone: (other) => {
            if (fail) throw error;
            return other === 'never';
          },
        };
      },
    };
    const a = await Queue.open<number>({ name: 'q', store });
    const b = await Queue.open<number>({ name: 'q', store });
    await a.pushMany([1, 2]);
    await a.take(1);
    fail = true;
    await expect(b.take(1)).rejects.toMatchObject({ code: 'ERR_STORAGE', cause: error });
    fail = false;
    expect((await b.take(1))!.entries.map((e) => e.value)).toEqual([2]);
    await a.close();
    await b.close();
  });

  it('blobs: every call that fails rejects with a SluiceError', async () => {
    const memory = new MemoryStore();
    const error = raw();
    const store: Store = {
      async open(name) {
        const s = await memory.open(name);
        const fail = () => Promise.reject(error);
        return Object.assign(Object.create(s) as object, {
          load: () => s.load(),
          token: () => s.token(),
          read: (segment: number, start: number, end: number) => s.read(segment, start, end),
          commit: s.commit.bind(s),
          close: () => s.close(),
          blobs: { write: fail, read: fail, delete: fail, keys: fail },
        });
      },
    };
    const q = await Queue.open<number>({ name: 'q', store });
    for (const call of [() => q.blobs!.write('a', 0, new Uint8Array(1)), () => q.blobs!.read('a', 0, 1), () => q.blobs!.delete(['a']), () => q.blobs!.keys()]) {
      await expect(call()).rejects.toMatchObject({ code: 'ERR_STORAGE', cause: error });
    }
    await q.close();
  });

  it('exclusive(): the lock failing is a SluiceError; what the plan under it throws (a filter\'s error) passes through as it is', async () => {
    const dir = tempDir();
    const files = new FileStore({ dir });
    const error = raw();
    let failLock = false;
    const store: Store = {
      async open(name) {
        const s = await files.open(name);
        return {
          load: () => s.load(),
          token: () => s.token(),
          read: (segment, start, end) => s.read(segment, start, end),
          commit: (token, batch) => s.commit(token, batch),
          close: () => s.close(),
          exclusive: (fn) => (failLock ? Promise.reject(error) : s.exclusive!(fn)),
          owner: s.owner!,
          isGone: (owner) => s.isGone!(owner),
        };
      },
    };
    const q = await Queue.open<number>({ name: 'q', store });
    await q.pushMany([1, 2]);
    failLock = true;
    await expect(q.push(3)).rejects.toMatchObject({ code: 'ERR_STORAGE', cause: error });
    failLock = false;
    const mine = new RangeError('my filter');
    // A view another handle made stale is planned on under the lock.
    const other = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
    await other.push(4);
    await other.close();
    await expect(
      q.take(1, {
        filter: () => {
          throw mine;
        },
      }),
    ).rejects.toBe(mine);
    expect((await q.take(5))!.entries.map((e) => e.value)).toEqual([1, 2, 4]);
    await q.close();
  });
});
