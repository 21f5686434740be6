import { Queue, SluiceError, type Codec, type CorruptDetail, type QueueOptions, type Store } from '../../src/index.js';
import { FRAME_HEADER } from '../../src/core/frame.js';
import { CountingStore, FakeClock, settle, type StoreHarness, type TestApi } from './harness.js';

interface Item {
  n: number;
}

/** Queue semantics every store must give (API.md), run against one store. */
export function queueConformance(t: TestApi, label: string, harness: StoreHarness): void {
  const { describe, it, expect, beforeEach, afterEach } = t;

  describe(`Queue semantics: ${label}`, () => {
    let place: Awaited<ReturnType<StoreHarness['setup']>>;
    let store: Store;
    let clock: FakeClock;
    let handles: Queue<Item>[];

    const open = async (options: Partial<QueueOptions<Item>> = {}, from: Store = store): Promise<Queue<Item>> => {
      const q = await Queue.open<Item>({ name: 'q', store: from, clock, ...options });
      handles.push(q);
      return q;
    };
    const items = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ n: from + i }));
    const ns = (values: readonly { value: Item }[] | undefined) => (values ?? []).map((e) => e.value.n);
    const drain = async (q: Queue<Item>): Promise<number[]> => {
      const out: number[] = [];
      for (let lease = await q.take(7); lease; lease = await q.take(7)) {
        out.push(...ns(lease.entries));
        await lease.ack();
      }
      return out;
    };
    /** The error a promise rejects with (fails the test when it resolves). */
    const rejection = async (promise: Promise<unknown>): Promise<SluiceError> => {
      try {
        await promise;
      } catch (error) {
        expect(error).toBeInstanceOf(SluiceError);
        return error as SluiceError;
      }
      throw new Error('expected a rejection');
    };

    beforeEach(async () => {
      place = await harness.setup();
      store = await place.open();
      clock = new FakeClock();
      handles = [];
    });
    afterEach(async () => {
      for (const q of handles) await q.close().catch(() => undefined);
      await place.teardown();
    });

    it('.push() and .take() keep push order across segments', async () => {
      const q = await open({ segmentItems: 4 });
      for (const item of items(0, 10)) await q.push(item);
      await q.pushMany(items(10, 25));
      expect(await q.size()).toBe(25);
      expect(await drain(q)).toEqual(items(0, 25).map((i) => i.n));
      expect(await q.take()).toBeUndefined();
      expect(await q.size()).toBe(0);
    });

    it('.pushMany([]) resolves no ids and stores nothing', async () => {
      const q = await open();
      expect(await q.pushMany([])).toEqual([]);
      expect(await q.size()).toBe(0);
      expect(await q.take()).toBeUndefined();
    });

    it('.take(max) hands out at most max of the oldest available items, with attempts', async () => {
      const q = await open();
      await q.pushMany(items(0, 5));
      const a = await q.take(2);
      expect(ns(a?.entries)).toEqual([0, 1]);
      expect(a!.entries.map((e) => e.attempts)).toEqual([1, 1]);
      expect(ns((await q.take(10))?.entries)).toEqual([2, 3, 4]);
      expect(await q.take(10)).toBeUndefined();
      expect(await q.size()).toBe(5);
      expect((await q.stats()).leased).toBe(5);
    });

    it('.release() puts items back at the head in their order, with attempts counted', async () => {
      const q = await open();
      await q.pushMany(items(0, 6));
      const a = await q.take(3);
      const b = await q.take(2);
      await b!.release();
      await a!.release([a!.entries[2]!.id, a!.entries[0]!.id]);
      const c = await q.take(10);
      expect(ns(c?.entries)).toEqual([0, 2, 3, 4, 5]);
      expect(c!.entries.map((e) => e.attempts)).toEqual([2, 2, 2, 2, 1]);
      await a!.ack([a!.entries[1]!.id]);
      await c!.ack();
      expect(await q.size()).toBe(0);
    });

    it('.ack() after a partial .release() acks the rest only, whether or not another consumer took the released item', async () => {
      for (const takenMeanwhile of [false, true]) {
        const q = await open();
        await q.pushMany(items(0, 3));
        const lease = (await q.take(3))!;
        await lease.release([lease.entries[1]!.id]);
        const other = takenMeanwhile ? await q.take(1) : undefined;
        await lease.ack();
        expect(ns(await q.list()), String(takenMeanwhile)).toEqual([1]);
        await (other ?? (await q.take(1)))!.ack();
        await q.close();
      }
    });

    it('.release(ids, { delayMs }) keeps items unavailable until the delay passes, in their place', async () => {
      const q = await open();
      await q.pushMany(items(0, 3));
      const a = await q.take(1);
      await a!.release(undefined, { delayMs: 5000 });
      expect(ns((await q.take(10))?.entries)).toEqual([1, 2]);
      expect((await q.stats()).delayed).toBe(1);
      clock.advance(4999);
      expect(await q.take(10)).toBeUndefined();
      clock.advance(1);
      const b = await q.take(10);
      expect(ns(b?.entries)).toEqual([0]);
      expect(b!.entries[0]!.attempts).toBe(2);
    });

    it('a lease not acked in leaseMs expires and its items come back', async () => {
      const q = await open({ leaseMs: 1000 });
      await q.pushMany(items(0, 3));
      const a = await q.take(2);
      expect(a!.expiresAt).toBe(clock.now() + 1000);
      clock.advance(999);
      expect(ns((await q.take(10))?.entries)).toEqual([2]);
      clock.advance(1);
      const b = await q.take(10, { leaseMs: 50 });
      expect(ns(b?.entries)).toEqual([0, 1]);
      expect(b!.entries.map((e) => e.attempts)).toEqual([2, 2]);
    });

    it('.ack() after the lease expired and another handle took the item rejects ERR_LEASE_EXPIRED and changes nothing', async () => {
      const q = await open({ leaseMs: 1000 });
      await q.pushMany(items(0, 2));
      const a = await q.take(2);
      clock.advance(1001);
      const b = await q.take(1);
      const error = await rejection(a!.ack());
      expect(error.code).toBe('ERR_LEASE_EXPIRED');
      expect(await q.size()).toBe(2);
      await b!.ack();
      expect(await q.size()).toBe(1);
    });

    it('.ack() made again, as after an ack whose outcome was unknown, passes over what it acked and touches nothing else', async () => {
      const q = await open();
      await q.pushMany(items(0, 2));
      const a = await q.take(1);
      await a!.ack();
      await a!.ack();
      await a!.ack([a!.entries[0]!.id]);
      expect(await q.size()).toBe(1);
      expect((await q.peek(1))[0]).toEqual({ n: 1 });
    });

    it('.ack() of an expired lease nobody took again still succeeds', async () => {
      const q = await open({ leaseMs: 1000 });
      await q.push({ n: 1 });
      const a = await q.take();
      clock.advance(5000);
      await a!.ack();
      expect(await q.size()).toBe(0);
    });

    it('.ack(ids) of items the lease gave back, untried or not, removes them (nothing took them since)', async () => {
      const q = await open();
      await q.pushMany(items(0, 3));
      const a = (await q.take(3))!;
      await a.release([a.entries[0]!.id]);
      await a.release([a.entries[1]!.id], { untried: true });
      await a.ack([a.entries[0]!.id, a.entries[1]!.id]);
      expect(ns(await q.list())).toEqual([2]);
    });

    it('.release() made twice for an item counts its untried attempt off once', async () => {
      const q = await open();
      await q.push({ n: 0 });
      await (await q.take(1))!.release();
      const a = (await q.take(1))!;
      expect(a.entries[0]!.attempts).toBe(2);
      await a.release(undefined, { untried: true });
      await a.release([a.entries[0]!.id], { untried: true });
      expect((await q.list())[0]!.attempts).toBe(1);
    });

    for (const how of ['release', 'ack'] as const) {
      it(`.ack() after the lease ran out, another handle took the items and then ${how === 'ack' ? 'acked' : 'released'} them: resolves, though this handle last saw them held`, async () => {
        const q = await open({ leaseMs: 1000 });
        const other = await open({ leaseMs: 1000 }, await place.open());
        await q.pushMany(items(0, 2));
        const a = (await q.take(2))!;
        clock.advance(1001);
        const b = (await other.take(2))!;
        // This handle's view now has the other lease holding the items.
        expect((await q.stats()).leased).toBe(2);
        await (how === 'ack' ? b.ack() : b.release());
        await a.ack();
        expect(await q.size()).toBe(0);
        expect(await other.size()).toBe(0);
      });
    }

    it('.release({ delayMs, untried }) after the lease ran out, nothing having taken the items since, gives them back so however recently this handle looked', async () => {
      const between: ((q: Queue<Item>) => Promise<unknown>)[] = [async () => undefined, (q) => q.size(), (q) => q.peek(), (q) => q.list(), (q) => q.take(5, { filter: () => false })];
      for (const [i, look] of between.entries()) {
        const q = await open({ leaseMs: 1000, name: `q${i}` });
        await q.push({ n: 0 });
        const a = (await q.take(1))!;
        clock.advance(1500);
        await look(q);
        await a.release(undefined, { delayMs: 60_000, untried: true });
        expect((await q.list()).map((e) => [e.state, e.attempts, e.availableAt - clock.now()])).toEqual([['delayed', 0, 60_000]]);
      }
    });

    describe('.extend()', () => {
      it('keeps the items from other handles past the lease\'s end, counts no attempt, and an ack then removes them', async () => {
        const q = await open({ leaseMs: 1000 });
        await q.pushMany(items(0, 3));
        const a = (await q.take(2))!;
        clock.advance(900);
        await a.extend(5000);
        expect(a.expiresAt).toBe(clock.now() + 5000);
        clock.advance(4999);
        // Another handle over the same place reads the new end from storage.
        const other = await open({ leaseMs: 1000 }, await place.open());
        expect((await other.list()).map((e) => [e.state, e.availableAt])).toEqual([['leased', a.expiresAt], ['leased', a.expiresAt], ['ready', 0]]);
        expect(ns((await other.take(10))?.entries)).toEqual([2]);
        await a.ack();
        expect(await q.size()).toBe(1);
        clock.advance(1000);
        const back = (await q.take(10))!;
        expect(ns(back.entries)).toEqual([2]);
        expect(back.entries[0]!.attempts).toBe(2);
      });

      it('without leaseMs, extends by the leaseMs it was taken with; counts no attempt when the items come back', async () => {
        const q = await open({ leaseMs: 1000 });
        await q.pushMany(items(0, 2));
        const a = (await q.take(2, { leaseMs: 300 }))!;
        clock.advance(200);
        await a.extend();
        expect(a.expiresAt).toBe(clock.now() + 300);
        clock.advance(299);
        expect(await q.take(10)).toBeUndefined();
        clock.advance(1);
        const b = (await q.take(10))!;
        expect(ns(b.entries)).toEqual([0, 1]);
        expect(b.entries.map((e) => e.attempts)).toEqual([2, 2]);
      });

      it('rejects ERR_LEASE_EXPIRED, extending nothing, once another lease took the items', async () => {
        const q = await open({ leaseMs: 1000 });
        await q.pushMany(items(0, 2));
        const a = (await q.take(2))!;
        clock.advance(1000);
        const b = (await q.take(1, { leaseMs: 100 }))!;
        const end = a.expiresAt;
        expect((await rejection(a.extend(60_000))).code).toBe('ERR_LEASE_EXPIRED');
        expect(a.expiresAt).toBe(end);
        // Item 1, expired and not taken again, was not held again either.
        expect(ns((await q.take(10))?.entries)).toEqual([1]);
        await b.ack();
        expect(await q.size()).toBe(1);
      });

      it('holds again items that expired and nobody took since; leaves out those acked or released', async () => {
        const q = await open({ leaseMs: 1000 });
        await q.pushMany(items(0, 4));
        const a = (await q.take(4))!;
        await a.ack([a.entries[0]!.id]);
        await a.release([a.entries[1]!.id]);
        clock.advance(1500);
        await a.extend(1000);
        expect(ns((await q.take(10))?.entries)).toEqual([1]);
        expect((await q.stats()).leased).toBe(3);
        await a.ack();
        expect(await q.size()).toBe(1);
      });

      it('after the lease ran out, leaves be the items another handle took and gave back since (its delay stands), and an extension with nothing left keeps expiresAt', async () => {
        const q = await open({ leaseMs: 1000 });
        const other = await open({ leaseMs: 1000 }, await place.open());
        await q.pushMany(items(0, 2));
        const a = (await q.take(2))!;
        const end = a.expiresAt;
        clock.advance(1000);
        const b = (await other.take(1))!;
        await b.release(undefined, { delayMs: 60_000 });
        await a.release([a.entries[1]!.id]);
        await a.extend(5000);
        await a.release(undefined, { delayMs: 1 });
        // Item 0 keeps the other handle's delay: neither the extension nor the late release took it over.
        expect((await q.list()).map((e) => [e.value.n, e.state, e.availableAt - clock.now()])).toEqual([
          [0, 'delayed', 60_000],
          [1, 'ready', -clock.now()],
        ]);
        expect(a.expiresAt).toBe(end);
        // An ack still removes it: the work is done.
        await a.ack([a.entries[0]!.id]);
        expect(ns(await q.list())).toEqual([1]);
      });

      it('across partitions, refused in one: extends none', async () => {
        const q = await open({ leaseMs: 1000, partitions: 2 });
        const other = await open({ leaseMs: 1000, partitions: 2 }, await place.open());
        await q.push({ n: 0 }, { key: 'y' });
        await q.push({ n: 1 }, { key: 'x' });
        const a = (await q.take(2))!;
        const ids = a.entries.map((e) => e.id);
        expect(new Set(ids.map((id) => Math.floor(Number(id) / 2 ** 40))).size).toBe(2);
        clock.advance(1000);
        await other.take(1, { ids: [ids[1]!] });
        expect((await rejection(a.extend(60_000))).code).toBe('ERR_LEASE_EXPIRED');
        expect((await q.list({ ids: [ids[0]!] }))[0]!.state).toBe('ready');
      });

      it('a handle that dies after extending holds its items until the new end, then they come back', async () => {
        const q = await open({ leaseMs: 1000 });
        await q.pushMany(items(0, 2));
        const a = (await q.take(1))!;
        await a.extend(10_000);
        const again = await open({ leaseMs: 1000 }, await place.open());
        clock.advance(9_999);
        expect(ns((await again.take(10))?.entries)).toEqual([1]);
        clock.advance(1);
        const back = (await again.take(10))!;
        expect(ns(back.entries)).toEqual([0]);
        expect(back.entries[0]!.attempts).toBe(2);
      });

      it('refuses a leaseMs that is no duration (ERR_INVALID_OPTION) and a closed handle (ERR_CLOSED), changing nothing', async () => {
        const q = await open({ leaseMs: 1000 });
        await q.push({ n: 0 });
        const a = (await q.take(1))!;
        for (const bad of [0, -1, Number.NaN, Infinity, 1e300, '5' as unknown as number]) {
          expect((await rejection(a.extend(bad))).code).toBe('ERR_INVALID_OPTION');
        }
        expect(a.expiresAt).toBe(clock.now() + 1000);
        await q.close();
        expect((await rejection(a.extend(1000))).code).toBe('ERR_CLOSED');
      });

      it('extends a lease taken across partitions in each of them', async () => {
        const q = await open({ leaseMs: 1000, partitions: 3 });
        await q.pushMany(items(0, 6));
        const a = (await q.take(6))!;
        expect(a.entries).toHaveLength(6);
        await a.extend(5000);
        expect(a.expiresAt).toBe(clock.now() + 5000);
        clock.advance(4999);
        expect(await q.take(10)).toBeUndefined();
        await a.ack();
        expect(await q.size()).toBe(0);
      });
    });

    it('a segment acked whole while it was the tail is freed by a later ack, however many segments came after it', async () => {
      const q = await open({ segmentItems: 5 });
      await q.pushMany(items(0, 5));
      await q.pushMany(items(5, 10));
      const first = await q.take(10);
      const ids = first!.entries.map((e) => e.id);
      // The second segment, the tail, acked whole while the head waits at the first: kept, its numbers still the tail's.
      await first!.ack(ids.slice(5));
      expect((await q.stats()).segments).toBe(2);
      await q.pushMany(items(10, 15));
      await q.pushMany(items(15, 20));
      const later = await q.take(10);
      await later!.ack([later!.entries[7]!.id]);
      expect((await q.stats()).segments).toBe(3);
      expect(await q.size()).toBe(14);
    });

    it('acks in any order free each segment once all its items are acked', async () => {
      const q = await open({ segmentItems: 5 });
      await q.pushMany(items(0, 5));
      await q.pushMany(items(5, 10));
      await q.pushMany(items(10, 15));
      expect((await q.stats()).segments).toBe(3);
      const lease = await q.take(15);
      const ids = lease!.entries.map((e) => e.id);
      await lease!.ack([ids[7]!, ids[5]!, ids[9]!, ids[6]!]);
      expect((await q.stats()).segments).toBe(3);
      await lease!.ack([ids[8]!]);
      expect((await q.stats()).segments).toBe(2);
      expect(await q.size()).toBe(10);
      await lease!.ack(ids.slice(0, 5));
      expect((await q.stats()).segments).toBe(1);
      await lease!.ack();
      const stats = await q.stats();
      expect(stats.size).toBe(0);
      expect(stats.segments).toBe(0);
      expect(stats.bytes).toBe(0);
      await q.push({ n: 99 });
      expect(ns((await q.take(5))?.entries)).toEqual([99]);
    });

    it('group commit: 1 000 pushes started in one tick cost a few storage commits', async () => {
      const counting = new CountingStore(store);
      const q = await open({}, counting);
      const before = counting.commits;
      await Promise.all(items(0, 1000).map((item) => q.push(item)));
      expect(counting.commits - before).toBeGreaterThan(0);
      expect(counting.commits - before).toBeLessThanOrEqual(3);
      expect(await q.size()).toBe(1000);
      expect((await q.take(1000))!.entries.map((e) => e.value.n)).toEqual(items(0, 1000).map((i) => i.n));
    });

    it('pushes made while a commit is in flight go together in the next one', async () => {
      const counting = new CountingStore(store);
      const q = await open({}, counting);
      const first = q.push({ n: 0 });
      await Promise.resolve();
      const rest = items(1, 200).map((item) => q.push(item));
      const before = counting.commits;
      await Promise.all([first, ...rest]);
      expect(counting.commits - before).toBeLessThanOrEqual(2);
      expect(await drain(q)).toEqual(items(0, 200).map((i) => i.n));
    });

    it('.close() releases the handle\'s leases at once and keeps every item', async () => {
      const q = await open();
      await q.pushMany(items(0, 4));
      await q.take(2);
      await q.close();
      const again = await open({}, await place.open());
      const lease = await again.take(10);
      expect(ns(lease?.entries)).toEqual([0, 1, 2, 3]);
      expect(lease!.entries.map((e) => e.attempts)).toEqual([2, 2, 1, 1]);
    });

    it('a handle that dies without closing keeps its leases until they expire; nothing is lost', async () => {
      const q = await open({ leaseMs: 10_000 });
      await q.pushMany(items(0, 4));
      const lease = await q.take(3);
      await lease!.ack([lease!.entries[1]!.id]);
      // No close: a second handle over the same place, as after a crash.
      const again = await open({ leaseMs: 10_000 }, await place.open());
      expect(await again.size()).toBe(3);
      const rest = await again.take(10);
      expect(ns(rest?.entries)).toEqual([3]);
      await rest!.ack();
      clock.advance(10_000);
      const back = await again.take(10);
      expect(ns(back?.entries)).toEqual([0, 2]);
      expect(back!.entries.map((e) => e.attempts)).toEqual([2, 2]);
    });

    it('reopening after close keeps order, acks and attempts', async () => {
      const q = await open({ segmentItems: 3 });
      await q.pushMany(items(0, 8));
      const lease = await q.take(4);
      await lease!.ack([lease!.entries[0]!.id, lease!.entries[2]!.id]);
      await q.close();
      const again = await open({ segmentItems: 3 }, await place.open());
      expect(await again.size()).toBe(6);
      const next = await again.take(10);
      expect(ns(next?.entries)).toEqual([1, 3, 4, 5, 6, 7]);
      expect(next!.entries.map((e) => e.attempts)).toEqual([2, 2, 1, 1, 1, 1]);
    });

    it('.release(ids, { untried: true }) takes the take\'s attempt back, for good (a new handle sees the same counts)', async () => {
      const q = await open({ segmentItems: 3 });
      await q.pushMany(items(0, 4));
      const first = await q.take(4);
      await first!.release([first!.entries[0]!.id]);
      await first!.release(first!.entries.slice(1).map((e) => e.id), { untried: true, delayMs: 1 });
      const second = await q.take(4, { ids: first!.entries.map((e) => e.id), early: true });
      expect(second!.entries.map((e) => e.attempts)).toEqual([2, 1, 1, 1]);
      await second!.release(undefined, { untried: true });
      await expect(second!.release(undefined, { untried: 'yes' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      await q.close();
      const again = await open({ segmentItems: 3 }, await place.open());
      const third = await again.take(4);
      expect(third!.entries.map((e) => e.attempts)).toEqual([2, 1, 1, 1]);
    });

    it('.take({ ids, early }): early as a function brings forward the delays it returns true for, given each entry id and its delay\'s end', async () => {
      const q = await open({ segmentItems: 3 });
      await q.pushMany(items(0, 4));
      const first = await q.take(4);
      const ids = first!.entries.map((e) => e.id);
      await first!.release([ids[0]!, ids[2]!], { delayMs: 60_000 });
      await first!.release([ids[1]!, ids[3]!], { delayMs: 120_000 });
      const ends = new Map((await q.list()).map((e) => [e.id, e.availableAt]));
      expect(await q.take(4, { ids })).toBeUndefined();
      const asked: [string, number][] = [];
      const some = await q.take(4, { ids, early: ({ id, availableAt }) => asked.push([id, availableAt]) > 0 && availableAt <= ends.get(ids[0]!)! });
      expect(some!.entries.map((e) => e.id)).toEqual([ids[0], ids[2]]);
      expect(asked).toEqual(ids.map((id) => [id, ends.get(id)]));
      const rest = await q.take(4, { ids, early: true });
      expect(rest!.entries.map((e) => e.id)).toEqual([ids[1], ids[3]]);
      await expect(q.take(1, { ids, early: 'yes' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      await expect(q.take(1, { ids, early: [ids[0]!] as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      await q.close();
    });

    it('two handles pushing at once: every item lands once, each handle\'s in its order', async () => {
      const a = await open({ segmentItems: 16 });
      const b = await open({ segmentItems: 16 }, await place.open());
      await Promise.all([
        ...items(0, 100).map((item) => a.push(item)),
        ...items(1000, 1100).map((item) => b.push(item)),
        a.pushMany(items(100, 150)),
        b.pushMany(items(1100, 1150)),
      ]);
      const got = await drain(a);
      expect(got).toHaveLength(300);
      expect(got.filter((n) => n < 1000)).toEqual(items(0, 150).map((i) => i.n));
      expect(got.filter((n) => n >= 1000)).toEqual(items(1000, 1150).map((i) => i.n));
      expect(await b.size()).toBe(0);
    });

    it('an item is leased to one handle at a time', async () => {
      const a = await open();
      const b = await open({}, await place.open());
      await a.pushMany(items(0, 50));
      const taken: number[] = [];
      await Promise.all(
        [a, b, a, b, a, b].map(async (q) => {
          for (let lease = await q.take(4); lease; lease = await q.take(4)) taken.push(...ns(lease.entries));
        }),
      );
      expect(taken.sort((x, y) => x - y)).toEqual(items(0, 50).map((i) => i.n));
    });

    it('.shift() takes and acks the oldest item; .peek() leases nothing', async () => {
      const q = await open();
      await q.pushMany(items(0, 3));
      expect(await q.peek(2)).toEqual([{ n: 0 }, { n: 1 }]);
      expect(await q.shift()).toEqual({ n: 0 });
      const lease = await q.take();
      expect(await q.peek(5)).toEqual([{ n: 2 }]);
      await lease!.ack();
      expect(await q.shift()).toEqual({ n: 2 });
      expect(await q.shift()).toBeUndefined();
      expect(await q.peek()).toEqual([]);
    });

    it('.list() reports every unacked entry with its state; .remove() drops entries by id', async () => {
      const q = await open({ leaseMs: 100 });
      await q.pushMany(items(0, 4));
      const lease = await q.take(2);
      await lease!.release([lease!.entries[1]!.id], { delayMs: 50 });
      const listed = await q.list();
      expect(listed.map((e) => [e.value.n, e.state, e.attempts])).toEqual([
        [0, 'leased', 1],
        [1, 'delayed', 1],
        [2, 'ready', 0],
        [3, 'ready', 0],
      ]);
      expect(listed[0]!.availableAt).toBe(clock.now() + 100);
      expect(await q.list({ limit: 1 })).toHaveLength(1);
      expect(await q.remove([listed[0]!.id, listed[2]!.id, '999999'])).toBe(2);
      expect(ns(await q.list())).toEqual([1, 3]);
    });

    it(".remove(ids, { leased: false }) leaves leased items (another handle's in flight), removes ready and delayed ones", async () => {
      const q = await open({ leaseMs: 100 });
      await q.pushMany(items(0, 4));
      const lease = await q.take(2);
      await lease!.release([lease!.entries[1]!.id], { delayMs: 50 });
      const ids = (await q.list()).map((e) => e.id);
      expect(await q.remove(ids, { leased: false })).toBe(3);
      expect((await q.list()).map((e) => [e.value.n, e.state])).toEqual([[0, 'leased']]);
      // Once its lease is over it is an item like any: removed.
      clock.advance(100);
      expect(await q.remove(ids, { leased: false })).toBe(1);
      expect(await q.size()).toBe(0);
      expect((await rejection(q.remove(ids, { leased: 'no' as unknown as boolean }))).code).toBe('ERR_INVALID_OPTION');
    });

    it('.remove() of items another handle pushed, or released, since this one last looked: removed', async () => {
      const a = await open({ leaseMs: 100 });
      const b = await open({ leaseMs: 100 }, await place.open());
      expect(await a.size()).toBe(0);
      const [pushed] = await b.pushMany(items(0, 2));
      expect(await a.remove([pushed!])).toBe(1);
      const lease = await b.take();
      expect(await a.remove([lease!.entries[0]!.id], { leased: false })).toBe(0);
      await lease!.release();
      expect(await a.remove([lease!.entries[0]!.id], { leased: false })).toBe(1);
      expect(await b.size()).toBe(0);
    });

    it('.clear() counts what it removes as it removes it: items another handle pushed since this one looked too', async () => {
      const a = await open();
      const b = await open({}, await place.open());
      await a.pushMany(items(0, 4));
      expect(await a.size()).toBe(4);
      await b.pushMany(items(4, 7));
      expect(await a.clear()).toBe(7);
      expect(await b.size()).toBe(0);
    });

    it('.clear() removes everything, leased items included', async () => {
      const q = await open({ segmentItems: 3 });
      await q.pushMany(items(0, 7));
      const lease = await q.take(2);
      expect(await q.clear()).toBe(7);
      expect(await q.size()).toBe(0);
      expect((await q.stats()).segments).toBe(0);
      // Acking what is already gone is harmless: acks are idempotent.
      await lease!.ack();
      await lease!.release();
      await q.push({ n: 42 });
      expect(await drain(q)).toEqual([42]);
    });

    it('.take({ filter }) sees every unacked entry in order and takes the ready ones it picks', async () => {
      const q = await open();
      await q.pushMany(items(0, 6));
      await q.take(1);
      const seen: [number, string][] = [];
      const lease = await q.take(2, {
        filter: (e) => {
          seen.push([e.value.n, e.state]);
          return e.value.n % 2 === 1;
        },
      });
      expect(ns(lease?.entries)).toEqual([1, 3]);
      expect(seen).toEqual([[0, 'leased'], [1, 'ready'], [2, 'ready'], [3, 'ready']]);
      // 'stop' ends the walk: what was picked before it is taken, nothing after it is looked at.
      const visited: number[] = [];
      const stopped = await q.take(10, { filter: (e) => (visited.push(e.value.n), e.value.n === 4 ? 'stop' : e.state === 'ready') });
      expect(ns(stopped?.entries)).toEqual([2]);
      expect(visited).toEqual([0, 1, 2, 3, 4]);
    });

    it('.take({ filter }) that answers with a Promise (an async filter) is refused, nothing taken', async () => {
      const q = await open();
      await q.pushMany(items(0, 3));
      const wants = async (e: { value: Item }) => e.value.n === 1;
      await expect(q.take(3, { filter: wants as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/Promise/) });
      expect((await q.stats()).leased).toBe(0);
      expect(ns((await q.take(3))?.entries)).toEqual([0, 1, 2]);
    });

    it('lease.ack() acks what the lease took, though the caller emptied `entries` as it worked', async () => {
      const q = await open();
      await q.pushMany(items(0, 3));
      const lease = (await q.take(3))!;
      const entries = lease.entries as unknown as { value: Item }[];
      const worked: number[] = [];
      while (entries.length > 0) worked.push(entries.shift()!.value.n);
      await lease.ack();
      expect(worked).toEqual([0, 1, 2]);
      expect(await q.size()).toBe(0);
    });

    it('a codec that keeps the bytes it decodes: a consumer\'s edit of a taken value is not what the next take gets', async () => {
      const bytes: Codec<Uint8Array> = { encode: (v) => v, decode: (b) => b };
      const q = await open({ name: 'bytes', codec: bytes } as never) as unknown as Queue<Uint8Array>;
      await q.pushMany([new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
      const lease = (await q.take(1))!;
      lease.entries[0]!.value.fill(42);
      await lease.release();
      expect([...(await q.take(1))!.entries[0]!.value]).toEqual([1, 2, 3]);
      expect([...(await q.peek(1))[0]!]).toEqual([4, 5]);
    });

    it('.take({ signal }) rejects with the signal\'s reason when aborted', async () => {
      const q = await open();
      await q.push({ n: 1 });
      const controller = new AbortController();
      controller.abort();
      await expect(q.take(1, { signal: controller.signal })).rejects.toThrow();
      expect((await q.stats()).leased).toBe(0);
    });

    it('[Symbol.asyncIterator] waits for pushes and ends on close', async () => {
      const q = await open();
      const got: number[] = [];
      const consumer = (async () => {
        for await (const lease of q) {
          got.push(...ns(lease.entries));
          await lease.ack();
          if (got.length === 3) break;
        }
      })();
      await settle();
      await q.push({ n: 1 });
      await q.pushMany([{ n: 2 }, { n: 3 }]);
      await consumer;
      expect(got).toEqual([1, 2, 3]);

      const waiting = (async () => {
        const leases = [];
        for await (const lease of q.iterate()) leases.push(lease);
        return leases;
      })();
      await settle();
      await q.close();
      expect(await waiting).toEqual([]);
    });

    it('.iterate({ signal }) stops when aborted, and wakes for another handle\'s push', async () => {
      const q = await open({ pollMs: 100 });
      const other = await open({}, await place.open());
      const controller = new AbortController();
      const got: number[] = [];
      const consumer = (async () => {
        for await (const lease of q.iterate({ signal: controller.signal })) {
          got.push(...ns(lease.entries));
          await lease.ack();
        }
      })();
      await settle();
      await other.push({ n: 7 });
      // Each turn is a macrotask: a real IndexedDB reads the push in real time, which a loaded machine stretches.
      for (let i = 0; i < 200 && got.length === 0; i++) {
        clock.advance(100);
        await settle();
      }
      expect(got).toEqual([7]);
      controller.abort();
      clock.advance(100);
      await consumer;
    });

    it('durability "strict" pushes survive a reopen', async () => {
      const q = await open({ durability: 'strict' });
      await Promise.all(items(0, 20).map((item) => q.push(item)));
      const again = await open({ durability: 'strict' }, await place.open());
      expect(await drain(again)).toEqual(items(0, 20).map((i) => i.n));
    });

    it('a queue of many segments opens reading only its tail', async () => {
      const q = await open({ segmentItems: 100 });
      for (let i = 0; i < 20; i++) await q.pushMany(items(i * 100, i * 100 + 100));
      await q.close();
      const counting = new CountingStore(await place.open());
      const again = await open({ segmentItems: 100 }, counting);
      expect(counting.reads).toBeLessThanOrEqual(1);
      expect(await again.size()).toBe(2000);
      expect((await again.stats()).segments).toBe(20);
    });

    describe('errors: each rejected call leaves the queue as it was', () => {
      const snapshot = async (q: Queue<Item>) => ({ size: await q.size(), items: ns(await q.list()) });

      it('ERR_INVALID_NAME for names outside 1–128 chars of [A-Za-z0-9._-]', async () => {
        for (const name of ['', '../x', '/abs', 'a/b', 'a b', '..', '.', 'x'.repeat(129), 'ünï', 7 as unknown as string]) {
          expect((await rejection(Queue.open({ name, store }))).code).toBe('ERR_INVALID_NAME');
        }
        expect((await store.open('x'.repeat(128)))).toBeTruthy();
      });

      it('Queue.open() takes a name of 128 characters, and opens it again after its metadata is lost', async () => {
        const name = 'x'.repeat(128);
        const q = await open({ name });
        await q.pushMany(items(0, 2));
        await q.close();
        const raw = await (await place.open()).open(name);
        const snap = await raw.load();
        await raw.commit(snap.token, { meta: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), durability: 'relaxed' });
        await raw.close();
        const again = await open({ name }, await place.open());
        expect(again.recovered[0]).toMatchObject({ kind: 'meta' });
        expect(await drain(again)).toEqual([0, 1]);
      });

      it("ERR_INVALID_NAME for a name that is a partitioned queue's part (<name>.p<n>, <name>.pm): it would share its storage", async () => {
        for (const name of ['x.p1', 'x.p8191', 'x.pm']) {
          expect((await rejection(Queue.open({ name, store, clock }))).code, name).toBe('ERR_INVALID_NAME');
        }
        // Not every such ending: these name no part.
        for (const name of ['x.p0', 'x.pmx', 'x.p']) await (await Queue.open({ name, store, clock })).close();
      });

      it("ERR_INCOMPATIBLE_STORE for an outbox's queue (its store says <name>.dead exists), nothing changed; unguarded where the store has no exists", async () => {
        const q = await open({ name: 'jobs' });
        await q.pushMany(items(0, 2));
        await q.close();
        // An outbox's layout: its dead letters beside its queue.
        await (await store.open('jobs.dead')).close();
        const raw = await store.open('jobs');
        const { token } = await raw.load();
        if (!store.exists) {
          expect(await drain(await open({ name: 'jobs' }))).toEqual([0, 1]);
        } else {
          for (const partitions of [1, 3]) expect((await rejection(Queue.open({ name: 'jobs', store, clock, partitions }))).code).toBe('ERR_INCOMPATIBLE_STORE');
          expect(await raw.token()).toBe(token);
          expect(await store.exists('jobs.p1')).toBe(false);
          // A name whose .dead is not there opens as before.
          await (await open({ name: 'jobs2' })).close();
        }
        await raw.close();
      });

      it('ERR_INVALID_OPTION for a bad option, naming it', async () => {
        const bad: Partial<QueueOptions<Item>>[] = [
          { segmentItems: 0 },
          { segmentBytes: 1.5 },
          // Past what a Redis string holds: a segment took pushes until an append was refused.
          { segmentBytes: 2 ** 29 + 1 },
          { maxItemBytes: -1 },
          { leaseMs: Infinity },
          { leaseMs: 0.5 },
          { durability: 'fast' as 'strict' },
          { corruption: 'ignore' as 'skip' },
          { codec: {} as never },
          { clock: {} as never },
          // Misspelt, an option would do nothing: refused, named.
          { partition: 4 } as never,
        ];
        for (const options of bad) {
          const error = await rejection(Queue.open({ name: 'q', store, ...options }));
          expect(error.code).toBe('ERR_INVALID_OPTION');
          expect(error.message).toContain(Object.keys(options)[0]);
        }
        const q = await open();
        await q.pushMany(items(0, 3));
        const before = await snapshot(q);
        expect((await rejection(q.take(0))).code).toBe('ERR_INVALID_OPTION');
        expect((await rejection(q.take(1, { leaseMs: -5 }))).code).toBe('ERR_INVALID_OPTION');
        // Shorter than a millisecond, a lease would end where it began, and the next take get its items too.
        expect((await rejection(q.take(1, { leaseMs: 1e-4 }))).code).toBe('ERR_INVALID_OPTION');
        expect((await rejection(q.peek(-1))).code).toBe('ERR_INVALID_OPTION');
        expect((await rejection(q.remove(['abc']))).code).toBe('ERR_INVALID_OPTION');
        const lease = await q.take(1);
        expect((await rejection(lease!.ack(['not-in-lease']))).code).toBe('ERR_INVALID_OPTION');
        expect((await rejection(lease!.release(undefined, { delayMs: -1 }))).code).toBe('ERR_INVALID_OPTION');
        await lease!.release();
        expect(await snapshot(q)).toEqual(before);
      });

      it('ERR_INVALID_OPTION, naming the option, for null or wrongly typed options to every method, and nothing changes', async () => {
        const q = await open();
        await q.pushMany(items(0, 3));
        const before = await snapshot(q);
        const calls: [() => Promise<unknown>, string][] = [
          [() => q.take(1, null as never), '`options`'],
          [() => q.take(1, { signal: {} as AbortSignal }), '`signal`'],
          [() => q.take(1, { filter: 'all' as never }), '`filter`'],
          [() => q.take(1, { ids: '1' as never }), '`ids`'],
          [() => q.take(1, { leaseMs: '5' as never }), '`leaseMs`'],
          [() => q.list(null as never), '`options`'],
          [() => q.list({ limit: -1 }), '`limit`'],
          [() => q.list({ after: 5 as never }), '`after`'],
          [() => q.list({ after: 'abc' }), '`after`'],
          // One partition: 0 is the only one there is.
          [() => q.list({ partition: 1 }), '`partition`'],
          // `ids` choose the entries: a filter has none to choose, and `early` brings theirs forward.
          [() => q.take(1, { ids: ['0'], filter: () => true }), '`filter`'],
          [() => q.take(1, { early: true }), '`early`'],
          // Options it does not know (a misspelling would do nothing): named.
          [() => q.take(1, { lease: 5 } as never), '`lease`'],
          [() => q.list({ status: 'ready' } as never), '`status`'],
          [() => q.push({ n: 1 }, { keys: 'a' } as never), '`keys`'],
          [() => q.remove(['0'], { leasd: false } as never), '`leasd`'],
          [() => q.iterate({ maxx: 2 } as never).next(), '`maxx`'],
          [() => q.pushMany('abc' as never), '`items`'],
          [() => q.remove('1' as never), '`ids`'],
          [() => q.iterate(null as never).next(), '`options`'],
          [() => q.iterate({ max: 0 }).next(), '`max`'],
          [() => q.iterate({ signal: 'x' as never }).next(), '`signal`'],
        ];
        for (const [call, name] of calls) {
          const error = await rejection(call());
          expect(error.code, name).toBe('ERR_INVALID_OPTION');
          expect(error.message).toContain(name);
        }
        const lease = await q.take(1);
        expect((await rejection(lease!.release(undefined, null as never))).code).toBe('ERR_INVALID_OPTION');
        expect((await rejection(lease!.release(undefined, { delay: 5 } as never))).message).toContain('`delay`');
        expect((await rejection(lease!.ack('0' as never))).code).toBe('ERR_INVALID_OPTION');
        // A number is no entry id, and is told as what it is.
        expect((await rejection(lease!.ack([5 as never]))).message).toContain('got 5.');
        await lease!.release();
        expect(await snapshot(q)).toEqual(before);
      });

      it('ERR_NOT_SERIALIZABLE for what JSON cannot carry, before anything is written', async () => {
        const counting = new CountingStore(store);
        const q = await open({}, counting);
        await q.pushMany(items(0, 2));
        const before = await snapshot(q);
        const commits = counting.commits;
        const circular: Record<string, unknown> = { a: 1 };
        circular.self = circular;
        const bad: unknown[] = [() => 1, Symbol('s'), 10n, circular, undefined, NaN, Infinity, new Date(0), new Map(), [1, undefined], { deep: { f: () => 1 } }];
        const throwing = Object.defineProperty({}, 'n', { enumerable: true, get: () => { throw new Error('no'); } });
        for (const value of [...bad, throwing]) {
          expect((await rejection(q.push(value as Item))).code).toBe('ERR_NOT_SERIALIZABLE');
          expect((await rejection(q.pushMany([{ n: 1 }, value as Item, { n: 2 }]))).code).toBe('ERR_NOT_SERIALIZABLE');
        }
        // A hole is no item, with the default codec or one of the app's (which has no encodeMany).
        expect((await rejection(q.pushMany([, { n: 1 }] as Item[]))).code).toBe('ERR_NOT_SERIALIZABLE');
        const own = await Queue.open<Item>({ name: 'q', store: counting, clock, codec: { encode: (v) => new TextEncoder().encode(JSON.stringify(v)), decode: (b) => JSON.parse(new TextDecoder().decode(b)) as Item } });
        expect((await rejection(own.pushMany([{ n: 1 }, , { n: 3 }] as Item[]))).code).toBe('ERR_NOT_SERIALIZABLE');
        await own.close();
        expect(counting.commits).toBe(commits);
        expect(await snapshot(q)).toEqual(before);
      });

      it('ERR_ITEM_TOO_LARGE for an item over maxItemBytes', async () => {
        const q = await Queue.open<{ s: string }>({ name: 'q', store, clock, maxItemBytes: 100 });
        await q.push({ s: 'x'.repeat(50) });
        const error = await rejection(q.pushMany([{ s: 'ok' }, { s: 'x'.repeat(200) }]));
        expect(error.code).toBe('ERR_ITEM_TOO_LARGE');
        expect(await q.size()).toBe(1);
        await q.close();
      });

      it('maxItemBytes limits what a handle writes, never what it reads: a larger item another handle wrote is data', async () => {
        const big = await Queue.open<{ s: string }>({ name: 'q', store, clock, maxItemBytes: 4000 });
        const small = await Queue.open<{ s: string }>({ name: 'q', store: await place.open(), clock, maxItemBytes: 100 });
        const events: string[] = [];
        for (const type of ['recover', 'corrupt']) small.addEventListener(type, () => events.push(type));
        try {
          await small.push({ s: 'first' });
          await big.pushMany([{ s: 'x'.repeat(2000) }, { s: 'last' }]);
          const got: number[] = [];
          for (let lease = await small.take(1); lease; lease = await small.take(1)) {
            got.push(lease.entries[0]!.value.s.length);
            await lease.ack();
          }
          expect(got).toEqual([5, 2000, 4]);
          expect(events).toEqual([]);
        } finally {
          await Promise.all([big.close(), small.close()]);
        }
      });

      it('ERR_CLOSED after close, and the stored queue is unchanged', async () => {
        const q = await open();
        await q.pushMany(items(0, 2));
        const lease = await q.take(1);
        await q.close();
        for (const call of [q.push({ n: 1 }), q.pushMany([{ n: 1 }]), q.take(), q.peek(), q.size(), q.stats(), q.clear(), q.list(), lease!.ack()]) {
          expect((await rejection(call)).code).toBe('ERR_CLOSED');
        }
        await q.close();
        const again = await open({}, await place.open());
        expect(await snapshot(again)).toEqual({ size: 2, items: [0, 1] });
      });

      it('a store failure (ERR_QUOTA_EXCEEDED) rejects the push and stores nothing', async () => {
        const counting = new CountingStore(store);
        const q = await open({}, counting);
        await q.push({ n: 0 });
        counting.failNext = new SluiceError('ERR_QUOTA_EXCEEDED', 'The storage quota is exhausted.');
        const [a, b] = await Promise.allSettled([q.push({ n: 1 }), q.pushMany([{ n: 2 }, { n: 3 }])]);
        expect(a.status === 'rejected' && (a.reason as SluiceError).code).toBe('ERR_QUOTA_EXCEEDED');
        expect(b.status === 'rejected' && (b.reason as SluiceError).code).toBe('ERR_QUOTA_EXCEEDED');
        expect(await snapshot(q)).toEqual({ size: 1, items: [0] });
        await q.push({ n: 4 });
        expect(await drain(q)).toEqual([0, 4]);
      });

      it('an ack, release or remove whose commit failed, called again, commits (never resolves on what the failed one planned)', async () => {
        const counting = new CountingStore(store);
        const q = await open({ leaseMs: 60_000 }, counting);
        const ids = await q.pushMany(items(0, 3));
        const fail = () => (counting.failNext = new SluiceError('ERR_STORAGE', 'The store failed.'));
        const lease = (await q.take(2))!;
        fail();
        expect((await rejection(lease.ack([ids[0]!]))).code).toBe('ERR_STORAGE');
        await lease.ack([ids[0]!]);
        fail();
        expect((await rejection(lease.release([ids[1]!]))).code).toBe('ERR_STORAGE');
        await lease.release([ids[1]!]);
        fail();
        expect((await rejection(q.remove([ids[2]!]))).code).toBe('ERR_STORAGE');
        expect(await q.remove([ids[2]!])).toBe(1);
        // Another handle sees what the calls said: the first acked, the second free, the third gone.
        const other = await open({}, await place.open());
        expect(await snapshot(other)).toEqual({ size: 1, items: [1] });
        expect((await other.take(1))!.entries.map((e) => e.id)).toEqual([ids[1]]);
      });

      it('ERR_LEASE_EXPIRED is covered above; ERR_CORRUPT below', () => undefined);
    });

    describe('recovery', () => {
      /** Writes raw bytes into a queue's storage, as damage would. */
      const damage = async (segmentIndex: number, edit: (bytes: Uint8Array) => { offset: number; bytes: Uint8Array }) => {
        const raw = await (await place.open()).open('q');
        const snap = await raw.load();
        const info = snap.segments.at(segmentIndex)!;
        const { offset, bytes } = edit(await raw.read(info.id, 0, info.length));
        expect(await raw.commit(snap.token, { write: { segment: info.id, offset, bytes }, durability: 'relaxed' })).toBeTypeOf('string');
        await raw.close();
      };
      const recoverEvent = (q: Queue<Item>) =>
        new Promise<CustomEvent>((resolve) => q.addEventListener('recover', (e) => resolve(e as CustomEvent), { once: true }));

      it('a torn tail is cut on open and reported; earlier items are intact', async () => {
        const q = await open();
        await q.pushMany(items(0, 5));
        await q.close();
        // Half of a frame header, as a writer killed mid-write leaves.
        await damage(-1, (b) => ({ offset: b.length, bytes: new Uint8Array([200, 1, 0]) }));
        const again = await open({}, await place.open());
        const heard = recoverEvent(again);
        // Dispatched a tick after open, on the queue's clock (a fake one here), so listeners added after open hear it.
        clock.advance(0);
        const event = await heard;
        expect(event.detail).toMatchObject({ kind: 'tail', bytes: 3, corrupt: false });
        expect(again.recovered).toHaveLength(1);
        await again.push({ n: 5 });
        expect(await drain(again)).toEqual([0, 1, 2, 3, 4, 5]);
      });

      // A writer killed mid-write leaves such bytes too; these pushes resolved, and the close recorded how far the queue
      // had grown, so their items are lost, not torn: named in a 'corrupt' event, or ERR_CORRUPT.
      const lostOnOpen = async (lost: string[]) => {
        expect((await rejection(Queue.open<Item>({ name: 'q', store: await place.open(), clock }))).code).toBe('ERR_CORRUPT');
        const again = await open({ corruption: 'skip' }, await place.open());
        const corrupt = new Promise<CustomEvent>((resolve) => again.addEventListener('corrupt', (e) => resolve(e as CustomEvent)));
        clock.advance(0);
        expect((await corrupt).detail).toMatchObject({ lost, action: 'skip', reason: 'missing' });
        return again;
      };

      it('a pushMany cut short after a close: its frames are dropped whole, and its items, which the close recorded, named lost', async () => {
        const q = await open();
        await q.pushMany(items(0, 2));
        await q.pushMany(items(2, 6));
        await q.close();
        // Cut inside the last item of the second pushMany: its first three frames are whole but unfinished.
        await damage(-1, (b) => ({ offset: b.length - 3, bytes: new Uint8Array(0) }));
        expect(await drain(await lostOnOpen(['2', '3', '4', '5']))).toEqual([0, 1]);
      });

      it('garbage over the tail after a close: cut back to the last whole commit, and the item it hid named lost', async () => {
        const q = await open();
        await q.pushMany(items(0, 3));
        await q.push({ n: 3 });
        await q.close();
        await damage(-1, (b) => {
          const garbage = new Uint8Array(40).map((_, i) => (i * 73 + 11) & 0xff);
          return { offset: b.length - 10, bytes: garbage };
        });
        expect(await drain(await lostOnOpen(['3']))).toEqual([0, 1, 2]);
      });

      it('ERR_CORRUPT for a bad checksum in the middle of the tail, unless corruption is "skip"', async () => {
        const q = await open();
        for (const item of items(0, 4)) await q.push(item);
        await q.close();
        await damage(-1, (b) => {
          const copy = b.slice();
          copy[12] = copy[12]! ^ 0xff; // inside the first item's payload
          return { offset: 0, bytes: copy };
        });
        const error = await rejection(Queue.open<Item>({ name: 'q', store: await place.open(), clock }));
        expect(error.code).toBe('ERR_CORRUPT');
        const skipping = await open({ corruption: 'skip' }, await place.open());
        expect(await skipping.size()).toBe(0);
        expect(skipping.recovered[0]).toMatchObject({ kind: 'tail', corrupt: true });
      });

      it('a sealed segment that fails its checksum: ERR_CORRUPT on read, or its lost items skipped with an event', async () => {
        const q = await open({ segmentItems: 3 });
        await q.pushMany(items(0, 3));
        await q.pushMany(items(3, 6));
        await q.close();
        await damage(0, (b) => {
          const copy = b.slice();
          copy[copy.length - 2] = copy[copy.length - 2]! ^ 0xff; // inside the third item
          return { offset: 0, bytes: copy };
        });
        const strict = await open({ segmentItems: 3 }, await place.open());
        expect((await rejection(strict.take(10))).code).toBe('ERR_CORRUPT');
        expect(await strict.size()).toBe(6);
        await strict.close();
        const skipping = await open({ segmentItems: 3, corruption: 'skip' }, await place.open());
        const corrupt = new Promise<CustomEvent>((resolve) => skipping.addEventListener('corrupt', (e) => resolve(e as CustomEvent)));
        expect(await drain(skipping)).toEqual([0, 1, 3, 4, 5]);
        expect((await corrupt).detail).toMatchObject({ segment: 0, lost: ['2'], action: 'skip' });
        expect(await skipping.size()).toBe(0);
      });

      it("a sealed segment with one item's payload damaged mid-way: that item lost at its byte, every other delivered under its own id", async () => {
        const q = await open({ segmentItems: 4 });
        await q.pushMany(items(0, 4));
        await q.pushMany(items(4, 8));
        await q.close();
        let at = 0;
        await damage(0, (b) => {
          const copy = b.slice();
          // Inside the second item's payload: past the first frame (its length word) and the second's header.
          at = FRAME_HEADER + (new DataView(copy.buffer, copy.byteOffset).getUint32(0, true) & 0x7fff_ffff);
          copy[at + FRAME_HEADER + 2] = copy[at + FRAME_HEADER + 2]! ^ 0x01;
          return { offset: 0, bytes: copy };
        });
        const strict = await open({ segmentItems: 4 }, await place.open());
        const refused: CorruptDetail[] = [];
        strict.addEventListener('corrupt', (e) => refused.push(e.detail));
        expect((await strict.peek(1)).map((v) => v.n)).toEqual([0]);
        expect((await rejection(strict.take(10))).message).toMatch(new RegExp(`at byte ${at}: unacked item 1 there cannot be read`));
        expect(refused).toEqual([expect.objectContaining({ segment: 0, offset: at, lost: ['1'], action: 'throw', reason: 'checksum' })]);
        await strict.close();
        const skipping = await open({ segmentItems: 4, corruption: 'skip' }, await place.open());
        const corrupt: CorruptDetail[] = [];
        skipping.addEventListener('corrupt', (e) => corrupt.push(e.detail));
        const listed = await skipping.list();
        expect(listed.map((e) => [e.id, e.value.n])).toEqual([0, 2, 3, 4, 5, 6, 7].map((n) => [String(n), n]));
        expect(corrupt).toEqual([expect.objectContaining({ segment: 0, offset: at, lost: ['1'], action: 'skip', reason: 'checksum' })]);
        expect(await drain(skipping)).toEqual([0, 2, 3, 4, 5, 6, 7]);
        expect(await skipping.size()).toBe(0);
      });

      it('unreadable metadata is rebuilt: every stored item comes back (at-least-once)', async () => {
        const q = await open();
        await q.pushMany(items(0, 4));
        const lease = await q.take(2);
        await lease!.ack();
        await q.push({ n: 4 });
        await q.close();
        const raw = await (await place.open()).open('q');
        const snap = await raw.load();
        await raw.commit(snap.token, { meta: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), durability: 'relaxed' });
        await raw.close();
        const again = await open({}, await place.open());
        expect(again.recovered[0]).toMatchObject({ kind: 'meta' });
        const got = await drain(again);
        expect(got.slice(-3)).toEqual([2, 3, 4]);
      });
    });
  });
}
