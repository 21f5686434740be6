import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore, Queue, SluiceError, type CorruptDetail, type RecoverDetail } from '../../src/index.js';
import type { Store } from '../../src/core/store.js';
import { IndexedDbStore } from '../../src/indexeddb.js';
import { FakeClock } from '../support/fake-clock.js';
import { FakeLockManager } from '../support/fake-locks.js';
import { FaultyIndexedDb } from './faulty-indexeddb.js';

// IndexedDbStore under faults injected through a wrapping IDBFactory (fake-indexeddb underneath): transactions
// aborted, writes refused for quota, reads failing, the database deleted from another context, a tab dying. Each
// trial is a random run of pushes, takes, acks, releases and reopenings by one or two tabs; then, faults off, a
// fresh handle drains what is left. Every push that resolved is taken exactly once (acked during the run, or
// drained), no push that rejected is ever seen, unless a 'recover' or 'corrupt' event names the item.
// SLUICE_IDB_FAULT_TRIALS=500 for a long run.

const TRIALS = Number(process.env.SLUICE_IDB_FAULT_TRIALS ?? 25);
const STEPS = 30;

/** A small seeded generator (mulberry32), so that a failing trial can be run again by its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outcomes {
  /** Values whose push resolved, and the values each of those pushes got as ids. */
  readonly resolved: Set<number>;
  readonly rejected: Set<number>;
  /** Pushes of a tab that died before they settled: there at most once. */
  readonly unknown: Set<number>;
  /** Values taken and acked (the ack resolved). */
  readonly acked: number[];
  /** Values a tab that died was acking: acked or not, there at most once. */
  readonly acking: Set<number>;
  readonly events: (RecoverDetail | CorruptDetail)[];
  readonly codes: Set<string>;
}

/** One tab's random work on the queue for `STEPS` steps. */
async function work(
  tab: { faults: FaultyIndexedDb; store: IndexedDbStore; dead: boolean },
  clock: FakeClock,
  random: () => number,
  out: Outcomes,
  next: () => number,
): Promise<Queue<number> | undefined> {
  const open = async (): Promise<Queue<number> | undefined> => {
    // A dead tab gives up: it would fail for ever.
    while (!tab.dead) {
      try {
        const q = await Queue.open<number>({ name: 'q', store: tab.store, segmentItems: 4, clock });
        q.addEventListener('recover', (e) => out.events.push(e.detail));
        q.addEventListener('corrupt', (e) => out.events.push(e.detail));
        return q;
      } catch (error) {
        out.codes.add((error as { code: string }).code);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    return undefined;
  };
  const settle = async (values: number[], pushing: Promise<unknown>) => {
    try {
      await pushing;
      for (const v of values) (tab.dead ? out.unknown : out.resolved).add(v);
    } catch (error) {
      out.codes.add((error as { code: string }).code);
      for (const v of values) (tab.dead ? out.unknown : out.rejected).add(v);
    }
  };
  let q = await open();
  for (let step = 0; q && step < STEPS && !tab.dead; step++) {
    const r = random();
    const queue = q;
    try {
      if (r < 0.3) {
        const values = Array.from({ length: 1 + Math.floor(random() * 5) }, next);
        await settle(values, q.pushMany(values));
      } else if (r < 0.5) {
        const values = Array.from({ length: 1 + Math.floor(random() * 6) }, next);
        await Promise.all(values.map((v) => settle([v], queue.push(v))));
      } else if (r < 0.9) {
        const lease = await q.take(1 + Math.floor(random() * 5));
        if (!lease) continue;
        const ids = lease.entries.filter(() => random() < 0.7).map((e) => e.id);
        const chosen = random();
        if (chosen < 0.7) {
          const values = lease.entries.filter((e) => ids.includes(e.id)).map((e) => e.value);
          for (const v of values) out.acking.add(v);
          await lease.ack(ids).finally(() => {
            if (!tab.dead) for (const v of values) out.acking.delete(v);
          });
          if (!tab.dead) out.acked.push(...values);
        } else if (chosen < 0.9) await lease.release(ids);
        // Otherwise left leased: it comes back when the handle closes or its owner is gone.
      } else {
        await q.close().catch(() => undefined);
        q = await open();
      }
    } catch (error) {
      out.codes.add((error as { code: string }).code);
    }
  }
  return q;
}

afterEach(() => vi.unstubAllGlobals());

describe('IndexedDbStore under injected faults', () => {
  for (const mode of ['without Web Locks (one tab)', 'with Web Locks (two tabs, one of which may die)'] as const) {
    it(`${mode}: every resolved push is taken exactly once, no rejected push is ever seen`, async () => {
      const locked = mode.startsWith('with ');
      const totals = { abort: 0, quota: 0, read: 0, kills: 0 };
      for (let trial = 0; trial < TRIALS; trial++) {
        const seed = 1000 * (locked ? 2 : 1) + trial;
        const random = seeded(seed);
        const inner = new IDBFactory();
        const manager = new FakeLockManager();
        const clock = new FakeClock();
        const out: Outcomes = { resolved: new Set(), rejected: new Set(), unknown: new Set(), acked: [], acking: new Set(), events: [], codes: new Set() };
        let counter = 0;
        const next = () => counter++;
        const tabs = Array.from({ length: locked ? 2 : 1 }, () => {
          const faults = new FaultyIndexedDb(inner, random);
          const locks = manager.context();
          if (locked) vi.stubGlobal('navigator', { locks });
          faults.plan = { write: 0.15, read: 0.05 };
          return { faults, locks, store: new IndexedDbStore({ indexedDB: faults.factory }), dead: false };
        });
        // With two tabs, the second may die at a random moment, its locks and connection gone at once.
        // A dead tab's work is not waited for: what it waits for may never come, and it can do nothing more.
        const dies = locked && random() < 0.5 ? tabs[1] : undefined;
        let died = new Promise<undefined>(() => undefined);
        if (dies) {
          died = new Promise((resolve) =>
            setTimeout(() => {
              dies.dead = true;
              dies.locks.kill();
              dies.faults.kill();
              totals.kills++;
              resolve(undefined);
            }, Math.floor(random() * 40)),
          );
        }
        const queues = await Promise.all(tabs.map((tab) => Promise.race([work(tab, clock, random, out, next), ...(tab === dies ? [died] : [])])));
        for (const tab of tabs) {
          tab.faults.plan = { write: 0, read: 0 };
          for (const kind of ['abort', 'quota', 'read'] as const) totals[kind] += tab.faults.injected[kind];
        }
        // A tab may die while it closes (its death is timed from the start of the trial): its close fails with it.
        for (const [i, q] of queues.entries()) {
          if (q && !tabs[i]!.dead) await q.close().catch((error: unknown) => {
            if (!tabs[i]!.dead) throw error;
          });
        }

        // Faults off: a fresh tab drains what is left. A dead tab's leases come back at once (its owner lock is gone);
        // those of a handle whose close failed, once they run out.
        clock.advance(60_000);
        if (locked) vi.stubGlobal('navigator', { locks: manager.context() });
        const check = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: inner }), clock });
        const drained: number[] = [];
        for (let lease = await check.take(100); lease; lease = await check.take(100)) {
          drained.push(...lease.entries.map((e) => e.value));
          await lease.ack();
        }
        await check.close();

        const context = `trial ${trial} (seed ${seed}), events ${JSON.stringify(out.events)}`;
        const seen = [...out.acked, ...drained];
        const counts = new Map<number, number>();
        for (const v of seen) counts.set(v, (counts.get(v) ?? 0) + 1);
        const named = new Set(out.events.flatMap((e) => ('lost' in e ? e.lost : [])).map(Number));
        for (const v of out.resolved) {
          if (named.has(v)) continue;
          if (out.acking.has(v)) expect(counts.get(v) ?? 0, `${context}: resolved push ${v}, acked by the tab that died`).toBeLessThanOrEqual(1);
          else expect(counts.get(v), `${context}: resolved push ${v}`).toBe(1);
        }
        for (const v of out.rejected) expect(counts.get(v), `${context}: rejected push ${v}`).toBeUndefined();
        for (const v of out.unknown) expect(counts.get(v) ?? 0, `${context}: push ${v} of the tab that died`).toBeLessThanOrEqual(1);
        expect([...out.codes].filter((c) => !['ERR_STORAGE', 'ERR_QUOTA_EXCEEDED'].includes(c)), context).toEqual([]);
        expect(out.events, context).toEqual([]);
      }
      // The faults did happen, and each kind was met by the store.
      expect(totals.abort).toBeGreaterThan(0);
      expect(totals.quota).toBeGreaterThan(0);
      expect(totals.read).toBeGreaterThan(0);
      if (locked) expect(totals.kills).toBeGreaterThan(0);
    }, 120_000);
  }

  it('the database deleted from another context: every later call of an open handle rejects ERR_NOT_FOUND, nothing is made again, and a queue opened again starts empty', async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const random = seeded(3000 + trial);
      const inner = new IDBFactory();
      const store = new IndexedDbStore({ indexedDB: inner });
      const q = await Queue.open<number>({ name: 'q', store, segmentItems: 4 });
      const steps = 1 + Math.floor(random() * 10);
      for (let i = 0; i < steps; i++) {
        if (random() < 0.6) await q.pushMany([i, i + 100]);
        else await (await q.take(2))?.ack();
      }
      const lease = await q.take(1);
      await new Promise<void>((resolve, reject) => {
        const request = inner.deleteDatabase('sluice');
        request.onsuccess = () => resolve();
        request.onerror = () => reject(request.error);
      });
      const calls = [q.push(1), q.pushMany([2, 3]), q.take(1), q.peek(1), q.size(), ...(lease ? [lease.ack()] : [])];
      for (const call of await Promise.allSettled(calls)) expect(call).toMatchObject({ status: 'rejected', reason: { code: 'ERR_NOT_FOUND' } });
      expect(await inner.databases()).toEqual([]);
      await q.close().catch(() => undefined);
      const again = await Queue.open<number>({ name: 'q', store });
      expect(await again.size()).toBe(0);
      await again.close();
    }
  });
});

describe('a read of the tail that fails while a queue reloads', () => {
  /** `inner`, with `read` failing while `failing.on`. */
  function flaky(inner: Store, failing: { on: boolean }): Store {
    return {
      async open(name) {
        const s = await inner.open(name);
        return {
          load: () => s.load(),
          token: () => s.token(),
          read: (segment, start, end) => (failing.on ? Promise.reject(new SluiceError('ERR_STORAGE', 'The read failed.')) : s.read(segment, start, end)),
          commit: (token, batch) => s.commit(token, batch),
          close: () => s.close(),
        };
      },
    };
  }

  /** Two handles; the second one's read of the tail fails once, after it sees the first one's push. */
  async function scenario(a: Queue<number>, b: Queue<number>, failing: { on: boolean }): Promise<unknown[]> {
    await a.pushMany([1, 2]);
    failing.on = true;
    // b sees a's commit, adopts its token, then cannot read the tail's new bytes.
    await expect(b.size()).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    failing.on = false;
    await b.push(3);
    const items = await a.peek(10);
    await a.close();
    await b.close();
    return items;
  }

  it('IndexedDbStore: the next commit is refused as stale, so the push lands after the items it did not see', async () => {
    const inner = new IDBFactory();
    const faults = new FaultyIndexedDb(inner, Math.random);
    const a = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: inner }) });
    const b = await Queue.open<number>({ name: 'q', store: new IndexedDbStore({ indexedDB: faults.factory }) });
    const failing = {
      set on(on: boolean) {
        faults.failReads = on ? 'chunks' : undefined;
      },
    };
    expect(await scenario(a, b, failing as { on: boolean })).toEqual([1, 2, 3]);
  });

  // The Queue adopts the snapshot's token only once it has read the tail too: a read that fails leaves the view to
  // be read again whole, so the next push is planned on what is stored, whichever store is under it.
  it('any store: a tail that could not be read is read again before the next push, which lands after the items it did not see', async () => {
    const memory = new MemoryStore();
    const failing = { on: false };
    const a = await Queue.open<number>({ name: 'q', store: memory });
    const b = await Queue.open<number>({ name: 'q', store: flaky(memory, failing) });
    expect(await scenario(a, b, failing)).toEqual([1, 2, 3]);
  });
});
