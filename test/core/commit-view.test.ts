import { describe, expect, it } from 'vitest';
import { CommitView } from '../../src/core/commit-view.js';
import { Queue } from '../../src/core/queue.js';
import type { QueueStorage, Store } from '../../src/core/store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

/** `inner`, with `before` run once (then disarmed) between a load and the read that follows it. */
function racing(inner: Store, hook: { before?: () => Promise<void> }): Store {
  return {
    async open(name) {
      const s = await inner.open(name);
      let loaded = false;
      const storage: QueueStorage = {
        load: async () => {
          const snapshot = await s.load();
          loaded = true;
          return snapshot;
        },
        token: () => s.token(),
        read: async (segment, start, end) => {
          const before = hook.before;
          if (loaded && before) {
            hook.before = undefined;
            await before();
          }
          loaded = false;
          return s.read(segment, start, end);
        },
        commit: (token, batch) => s.commit(token, batch),
        close: () => s.close(),
      };
      return storage;
    },
  };
}

describe('a reload', () => {
  it('whose tail another handle acked and removed before it was read loads again: nothing is taken for lost', async () => {
    const memory = new MemoryStore();
    const hook: { before?: () => Promise<void> } = {};
    const a = await Queue.open<number>({ name: 'q', store: memory });
    const b = await Queue.open<number>({ name: 'q', store: racing(memory, hook) });
    const corrupt: unknown[] = [];
    b.addEventListener('corrupt', (event) => corrupt.push(event.detail));
    await a.pushMany([1, 2, 3]);
    const lease = (await a.take(3))!;
    // b lists the tail and sees a's lease on its items; a acks them all (removing the segment) before b reads it.
    hook.before = () => lease.ack();
    expect(await b.size()).toBe(0);
    expect(hook.before).toBeUndefined();
    await b.push(4);
    expect(await b.take(10)).toMatchObject({ entries: [{ value: 4 }] });
    expect(corrupt).toEqual([]);
    await a.close();
    await b.close();
  });

  it('whose tail reads short every time says the store does not keep what it lists (ERR_STORAGE), not that items were lost', async () => {
    const memory = new MemoryStore();
    const a = await Queue.open<number>({ name: 'q', store: memory });
    const lying: Store = {
      async open(name) {
        const s = await memory.open(name);
        return { ...bindAll(s), read: async () => new Uint8Array(0) };
      },
    };
    const b = await Queue.open<number>({ name: 'q', store: lying });
    await a.pushMany([1, 2, 3]);
    await expect(b.size()).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('shorter than the store listed') });
    await a.close();
    await b.close();
  });

  it('of a sealed segment that reads short every time is bounded: its items past what it reads are reported lost, and take settles', async () => {
    const memory = new MemoryStore();
    const a = await Queue.open<number>({ name: 'q', store: memory, segmentItems: 3 });
    // One at a time: a cut between the items of one pushMany would be a torn unit (reported as failing its checksum).
    for (let n = 0; n < 8; n++) await a.push(n);
    await a.close();
    let loads = 0;
    // Lists segment 3 whole and reads only its first item: a store whose record of a segment outlived its data.
    const lying: Store = {
      async open(name) {
        const s = await memory.open(name);
        return {
          ...bindAll(s),
          load: () => (++loads > 100 ? Promise.reject(new Error('reloads without end')) : s.load()),
          read: async (segment, start, end) => {
            const bytes = await s.read(segment, start, end);
            return segment === 3 ? bytes.subarray(0, bytes.length / 3) : bytes;
          },
        };
      },
    };
    for (const corruption of ['throw', 'skip'] as const) {
      loads = 0;
      const b = await Queue.open<number>({ name: 'q', store: lying, segmentItems: 3, corruption });
      const corrupt: unknown[] = [];
      b.addEventListener('corrupt', (event) => corrupt.push(event.detail));
      await (await b.take(3))!.release();
      if (corruption === 'throw') await expect(b.take(10)).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
      else expect((await b.take(10))!.entries.map((e) => e.value)).toEqual([0, 1, 2, 3, 6, 7]);
      expect(corrupt).toEqual([{ queue: 'q', segment: 3, offset: 0, lost: ['4', '5'], action: corruption, reason: 'missing' }]);
      await b.close();
    }
  });
});

function bindAll(s: QueueStorage): QueueStorage {
  return { load: () => s.load(), token: () => s.token(), read: (i, f, t) => s.read(i, f, t), commit: (t, b) => s.commit(t, b), close: () => s.close() };
}

/** The lock that `locking` stores share: one holder at a time among them. */
const gate = { lock: Promise.resolve() };

/**
 * `inner` as a store with a lock to hold (see `QueueStorage.exclusive`), the one `gate` of every such store. Counts
 * the commits that found their view stale, and says whether the lock was held when each load and commit ran.
 */
function locking(inner: Store, seen: { stale: number; unlocked: string[]; held: number; reads?: [number, boolean][] }): Store {
  return {
    async open(name) {
      const s = await inner.open(name);
      let holding = false;
      const commit: QueueStorage['commit'] = async (token, batch) => {
        if (!holding) seen.unlocked.push('commit');
        const made = await s.commit(token, batch);
        if (made === undefined) seen.stale++;
        return made;
      };
      return {
        ...bindAll(s),
        read: (segment, from, to) => {
          seen.reads?.push([segment, holding]);
          return s.read(segment, from, to);
        },
        load: () => {
          if (!holding) seen.unlocked.push('load');
          return s.load();
        },
        commit,
        exclusive: async (fn) => {
          const before = gate.lock;
          let free!: () => void;
          gate.lock = new Promise((resolve) => (free = resolve));
          await before;
          holding = true;
          seen.held++;
          try {
            return await fn({ load: () => s.load(), commit });
          } finally {
            holding = false;
            free();
          }
        },
      };
    },
  };
}

describe('a store with a lock to hold', () => {
  it('commits under the lock, and a view found stale is read and planned on again there: no commit loses', async () => {
    const memory = new MemoryStore();
    const seen = { stale: 0, unlocked: [] as string[], held: 0 };
    const a = await Queue.open<number>({ name: 'q', store: locking(memory, seen) });
    const b = await Queue.open<number>({ name: 'q', store: locking(memory, seen) });
    seen.unlocked = [];
    for (let i = 0; i < 5; i++) {
      await a.push(i);
      const lease = (await b.take(1))!;
      expect(lease.entries.map((e) => e.value)).toEqual([i]);
      await Promise.all([lease.ack(), a.push(10 + i)]);
      expect((await a.take(1))!.entries.map((e) => e.value)).toEqual([10 + i]);
    }
    expect(seen.stale).toBe(0);
    // Each of those operations found its view stale before it planned, and read what others committed under the lock.
    expect(seen.unlocked).toEqual([]);
    await a.close();
    await b.close();
  });

  it('a take on a stale view reads the sealed segment it starts in before it takes the lock', async () => {
    const memory = new MemoryStore();
    const seen = { stale: 0, unlocked: [] as string[], held: 0, reads: [] as [number, boolean][] };
    const a = await Queue.open<number>({ name: 'q', store: memory, segmentItems: 5 });
    await a.pushMany([0, 1, 2, 3, 4]);
    await a.pushMany([5, 6, 7, 8, 9]);
    const b = await Queue.open<number>({ name: 'q', store: locking(memory, seen), segmentItems: 5 });
    // Another handle commits: b's view is stale, and b has read no segment yet but the tail.
    await a.push(10);
    seen.reads = [];
    expect((await b.take(2))!.entries.map((e) => e.value)).toEqual([0, 1]);
    expect(seen.reads).toContainEqual([0, false]);
    // Under the lock: only what the tail gained, read by the reload.
    expect(seen.reads.filter(([, held]) => held)).toEqual([[10, true]]);
    await a.close();
    await b.close();
  });

  it('takes no lock for a plan that only reads, however stale the view, nor for one that changes nothing', async () => {
    const memory = new MemoryStore();
    const seen = { stale: 0, unlocked: [] as string[], held: 0 };
    const a = await Queue.open<number>({ name: 'q', store: memory });
    const b = await Queue.open<number>({ name: 'q', store: locking(memory, seen) });
    await a.pushMany([1, 2, 3]);
    const held = seen.held;
    expect(await b.peek(2)).toEqual([1, 2]);
    expect((await b.list()).map((e) => e.value)).toEqual([1, 2, 3]);
    expect(seen.held).toBe(held);
    // A take and an ack do.
    await (await b.take(3))!.ack();
    expect(seen.held).toBe(held + 2);
    // One that finds nothing, on a current view, does not; nor does a close with nothing to give back.
    expect(await b.take(1)).toBeUndefined();
    await b.close();
    expect(seen.held).toBe(held + 2);
    await a.close();
  });
});

describe('a view whose reload failed half way', () => {
  it('is read again before the next plan: items of a tail listed but not read are not taken for lost', async () => {
    const memory = new MemoryStore();
    const failing = { reads: 0 };
    const flaky: Store = {
      async open(name) {
        const s = await memory.open(name);
        return { ...bindAll(s), read: (segment, start, end) => (failing.reads-- > 0 ? Promise.reject(new Error('read failed')) : s.read(segment, start, end)) };
      },
    };
    const a = await Queue.open<number>({ name: 'q', store: flaky });
    const b = await Queue.open<number>({ name: 'q', store: memory });
    await b.pushMany([1, 2, 3]);
    // The metadata says how far the queue has grown once a take or an ack is recorded.
    await (await b.take(1))!.ack();
    // a finds nothing, reads the store again, and the read of the tail's new bytes fails: its listing and its state
    // are new, the items they name not read.
    failing.reads = 1;
    await expect(a.take(1)).rejects.toThrow();
    const corrupt: unknown[] = [];
    a.addEventListener('corrupt', (e) => corrupt.push(e.detail));
    expect((await a.take(2))!.entries.map((e) => e.value)).toEqual([2, 3]);
    expect(corrupt).toEqual([]);
    await a.close();
    await b.close();
  });
});

describe('CommitView.wakeAfter()', () => {
  const clock = { now: () => 0 } as unknown as ConstructorParameters<typeof CommitView>[1]['clock'];
  const viewOn = (storage: Partial<QueueStorage>) => {
    const view = new CommitView(storage as QueueStorage, { name: 'q', durability: 'relaxed', maxItemBytes: 1024, clock }, () => undefined);
    view.state.holds.add({ lease: 'l', owner: 'other', until: 60_000, ranges: [[0, 1]] });
    return view;
  };

  it('looks again within a second while another handle holds leases on a store that can tell it gone, and tells no one', () => {
    expect(viewOn({ owner: 'me', isGone: () => false }).wakeAfter(1000)).toBe(2000);
  });

  // IndexedDbStore wakes its watchers once a handle asked about goes: a wait there took every second for nothing.
  it('waits for the hold to end where the store tells its watchers that a handle went, or cannot tell it', () => {
    expect(viewOn({ owner: 'me', isGone: () => false, tellsGone: true }).wakeAfter(1000)).toBe(60_000);
    expect(viewOn({ owner: 'me' }).wakeAfter(1000)).toBe(60_000);
  });
});
