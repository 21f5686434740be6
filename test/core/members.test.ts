import { describe, expect, it } from 'vitest';
import { Members } from '../../src/core/members.js';
import { Queue } from '../../src/core/queue.js';
import type { Store } from '../../src/core/store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FakeClock } from '../support/fake-clock.js';

// The handles taking from a partitioned queue share out its partitions by rank, so that they do not meet on them.

/** Time by which every member has renewed (each renews 0.75 to 1.25 s after its last word). */
const RENEWED = 1250;
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function members(store: Store, clock: FakeClock, n: number): Members[] {
  return Array.from({ length: n }, () => new Members(() => store.open('q.pm'), clock));
}

/** Each member's own partitions, once every member has joined and read the list. */
async function own(list: Members[], count: number, clock: FakeClock): Promise<number[][]> {
  for (const m of list) await m.order(count);
  // The first members joined before the later ones: they read the list again when they renew, a second or so on.
  clock.advance(RENEWED);
  for (const m of list) {
    await m.order(count);
    await tick();
  }
  const out: number[][] = [];
  for (const m of list) {
    const { order, own } = await m.order(count);
    out.push(order.slice(0, own).sort((a, b) => a - b));
  }
  return out;
}

describe('Members', () => {
  // Ranks go by id, not by joining order: the sets are those of ranks 0, 1, … in some order.
  it.each([
    ['gives each of N members the partitions p with p % N = its rank, and every partition to one member', 8, ['0,3,6', '1,4,7', '2,5']],
    ['where members outnumber partitions, two share a partition and none is left without', 2, ['0', '0', '1']],
  ])('%s', async (_, partitions, expected) => {
    const clock = new FakeClock();
    const mine = await own(members(new MemoryStore(), clock, 3), partitions, clock);
    expect(mine.map((ps) => ps.join(',')).sort()).toEqual(expected);
  });

  it('orders every partition on each take: its own first, starting with each in turn, then the others', async () => {
    const clock = new FakeClock();
    const list = members(new MemoryStore(), clock, 2);
    await own(list, 4, clock);
    const orders = [await list[0]!.order(4), await list[0]!.order(4)];
    for (const { order, own } of orders) expect([[...order].sort(), own]).toEqual([[0, 1, 2, 3], 2]);
    expect(orders[0]!.order[0]).not.toBe(orders[1]!.order[0]);
    expect(new Set(orders.map(({ order }) => order[0]))).toEqual(new Set(orders[0]!.order.slice(0, 2)));
  });


  it('a member that leaves gives its partitions up at the others\' next renewal; one that stops renewing, after a few seconds', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const [a, b, c] = members(store, clock, 3);
    await own([a!, b!, c!], 6, clock);
    await c!.leave();
    expect((await own([a!, b!], 6, clock)).map((ps) => ps.length)).toEqual([3, 3]);
    // b takes no more: a renews (in the background, once a second) and counts b out once b's word runs out.
    for (let s = 0; s < 4; s++) {
      clock.advance(1000);
      await a!.order(6);
      await tick();
    }
    expect((await own([a!], 6, clock))[0]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('takes all the same, in an order of its own, when its list cannot be read or written', async () => {
    const store = new MemoryStore();
    const failing: Store = { open: (name) => (name.endsWith('.pm') ? Promise.reject(new Error('no')) : store.open(name)) };
    const q = await Queue.open<number>({ name: 'q', store: failing, partitions: 3 });
    await q.pushMany([1, 2, 3]);
    const lease = await q.take(3);
    expect(lease?.entries.map((e) => e.value)).toEqual([1, 2, 3]);
    await lease!.ack();
    await q.close();
  });

  it('two handles of a queue take from partitions of their own, and never meet while those hold items', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const [a, b] = await Promise.all([0, 1].map(() => Queue.open<number>({ name: 'q', store, clock, partitions: 4 })));
    for (let p = 0; p < 4; p++) await a!.pushMany(Array.from({ length: 10 }, (_, i) => p * 10 + i));
    // The first takes join; a second on, each has renewed and read the other in: from then on each takes from its
    // own two partitions only.
    await (await a!.take(1))!.release();
    await (await b!.take(1))!.release();
    clock.advance(RENEWED);
    for (const q of [a!, b!]) {
      await (await q.take(1))!.release();
      await tick();
    }
    const seen = [new Set<number>(), new Set<number>()];
    for (let i = 0; i < 8; i++) {
      for (const [k, q] of [a!, b!].entries()) {
        const lease = (await q.take(2))!;
        for (const e of lease.entries) seen[k]!.add(Math.floor(e.value / 10));
        await lease.ack();
      }
    }
    expect([...seen[0]!, ...seen[1]!].sort()).toEqual([0, 1, 2, 3]);
    expect([...seen[0]!].filter((p) => seen[1]!.has(p))).toEqual([]);
    await a!.close();
    await b!.close();
  });
});
