import fc from 'fast-check';
import { Queue, type Lease } from '../../src/index.js';
import { FakeClock, type StoreHarness, type TestApi } from './harness.js';

/** Handles open on one place at once: tabs, or processes on one directory or server. */
const HANDLES = 3;
const LEASE_MS = 1000;
/** Ticks and delays chosen so that no lease or delay ends on a tick (no tie between "ended" and "not yet"). */
const TICK_MS = 400;
const DELAYS = [0, 500, 1500];

type Op =
  | { kind: 'push'; h: number; count: number }
  | { kind: 'take'; h: number; max: number }
  | { kind: 'ack' | 'release'; lease: number; mask: number; delay: number; untried: boolean }
  | { kind: 'remove'; h: number; mask: number; leased: boolean }
  | { kind: 'takeAll'; max: number }
  | { kind: 'ackAll' }
  | { kind: 'tick' }
  | { kind: 'reopen' | 'crash'; h: number };

const handle = fc.integer({ min: 0, max: HANDLES - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('push' as const), h: handle, count: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('take' as const), h: handle, max: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constantFrom('ack' as const, 'release' as const),
      lease: fc.nat(),
      mask: fc.nat(),
      delay: fc.constantFrom(...DELAYS),
      untried: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('takeAll' as const), max: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'ackAll' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), h: handle, mask: fc.nat(), leased: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'tick' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('reopen' as const, 'crash' as const), h: handle }) },
);

interface Item {
  readonly n: number;
  attempts: number;
  /** The lease holding it, while that lease has not ended. */
  holder?: Held;
  /** When it may be taken again, after a release with a delay. */
  availableAt: number;
}

interface Held {
  readonly lease: Lease<number>;
  /** The handle that took it; undefined once that handle is abandoned (a later handle in its slot does not own it). */
  h: number | undefined;
  /** Its items it has neither acked nor released. */
  readonly live: Set<number>;
  /** The attempts of its items before it took them (a release 'untried' puts them back). */
  readonly before: Map<number, number>;
}

/** `items`, just taken by handle `h` under `lease`, as the model holds them: one attempt more each. */
function hold(lease: Lease<number>, h: number, items: readonly Item[]): Held {
  const held: Held = { lease, h, live: new Set(items.map((i) => i.n)), before: new Map(items.map((i) => [i.n, i.attempts])) };
  for (const item of items) {
    item.attempts++;
    item.holder = held;
  }
  return held;
}

function runs(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return Number(env?.SLUICE_MODEL_RUNS ?? 60);
}

/**
 * Random steps of several handles on one place, one at a time, against one model of the queue: whichever handle
 * pushed an item, every handle takes it in queue order when it is ready, no two hold it at once, a handle's leases end
 * with it when it closes and run out when it is abandoned, and every handle counts the same size after every step.
 */
export function handlesConformance(t: TestApi, label: string, harness: StoreHarness): void {
  const { describe, it, expect } = t;

  describe(`Queue model, ${HANDLES} handles: ${label}`, () => {
    it('agrees with one model whichever handle pushes, takes, acks, releases, removes, closes or is abandoned', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.integer({ min: 2, max: 6 }), async (ops, segmentItems) => {
          const place = await harness.setup();
          const clock = new FakeClock();
          const open = async () => Queue.open<number>({ name: 'handles', store: await place.open(), clock, segmentItems, leaseMs: LEASE_MS });
          const queues: Queue<number>[] = [];
          for (let h = 0; h < HANDLES; h++) queues.push(await open());
          const abandoned: Queue<number>[] = [];
          const items: Item[] = [];
          let held: Held[] = [];
          let next = 0;
          const endLeases = (ended: (h: Held) => boolean) => {
            for (const item of items) if (item.holder && ended(item.holder)) item.holder = undefined;
            held = held.filter((h) => !ended(h));
          };
          try {
            for (const o of ops) {
              const now = clock.now();
              switch (o.kind) {
                case 'push': {
                  const values = Array.from({ length: o.count }, () => next++);
                  await (o.count === 1 ? queues[o.h]!.push(values[0]!) : queues[o.h]!.pushMany(values));
                  for (const n of values) items.push({ n, attempts: 0, availableAt: 0 });
                  break;
                }
                case 'take': {
                  const expected = items.filter((i) => !i.holder && i.availableAt <= now).slice(0, o.max);
                  const lease = await queues[o.h]!.take(o.max);
                  expect(lease?.entries.map((e) => [e.value, e.attempts]) ?? [], `take(${o.max}) by handle ${o.h}`).toEqual(
                    expected.map((i) => [i.n, i.attempts + 1]),
                  );
                  if (lease) held.push(hold(lease, o.h, expected));
                  break;
                }
                case 'takeAll': {
                  // Every handle at once: in whatever order their commits land, they take the oldest ready items
                  // between them, none twice.
                  const ready = items.filter((i) => !i.holder && i.availableAt <= now);
                  const leases = await Promise.all(queues.map((q) => q.take(o.max)));
                  const taken = leases.flatMap((lease) => lease?.entries ?? []);
                  const expected = ready.slice(0, o.max * HANDLES);
                  expect(taken.map((e) => [e.value, e.attempts]).sort((a, b) => a[0]! - b[0]!), 'takes by every handle at once').toEqual(
                    expected.map((i) => [i.n, i.attempts + 1]),
                  );
                  leases.forEach((lease, h) => {
                    if (lease) held.push(hold(lease, h, expected.filter((i) => lease.entries.some((e) => e.value === i.n))));
                  });
                  break;
                }
                case 'ackAll': {
                  // Every live lease acks what it holds, all at once.
                  await Promise.all(held.map((h) => h.lease.ack(h.lease.entries.filter((e) => h.live.has(e.value)).map((e) => e.id))));
                  for (const h of held) for (const n of h.live) items.splice(items.findIndex((i) => i.n === n), 1);
                  held = [];
                  break;
                }
                case 'ack':
                case 'release': {
                  if (held.length === 0) break;
                  const h = held[o.lease % held.length]!;
                  const picked = h.lease.entries.filter((e, i) => h.live.has(e.value) && (o.mask >> i) & 1);
                  const ids = picked.map((e) => e.id);
                  if (o.kind === 'ack') {
                    await h.lease.ack(ids);
                    for (const e of picked) {
                      const at = items.findIndex((i) => i.n === e.value);
                      if (at >= 0) items.splice(at, 1);
                    }
                  } else {
                    await h.lease.release(ids, { delayMs: o.delay, untried: o.untried });
                    for (const e of picked) {
                      const item = items.find((i) => i.n === e.value);
                      if (!item) continue;
                      item.holder = undefined;
                      item.availableAt = now + o.delay;
                      if (o.untried) item.attempts = h.before.get(e.value)!;
                    }
                  }
                  for (const e of picked) h.live.delete(e.value);
                  break;
                }
                case 'remove': {
                  const chosen = items.filter((_, i) => (o.mask >> i) & 1);
                  const removed = chosen.filter((i) => o.leased || !i.holder);
                  const entries = await queues[o.h]!.list();
                  const ids = entries.filter((e) => chosen.some((i) => i.n === e.value)).map((e) => e.id);
                  expect(await queues[o.h]!.remove(ids, { leased: o.leased }), `remove by handle ${o.h}`).toBe(removed.length);
                  for (const item of removed) {
                    items.splice(items.indexOf(item), 1);
                    item.holder?.live.delete(item.n);
                  }
                  break;
                }
                case 'tick':
                  clock.advance(TICK_MS);
                  endLeases((h) => h.lease.expiresAt <= clock.now());
                  break;
                case 'reopen':
                  // Closing gives back what the handle holds.
                  await queues[o.h]!.close();
                  queues[o.h] = await open();
                  endLeases((h) => h.h === o.h);
                  break;
                case 'crash':
                  // Abandoned without closing: what it holds stays held until its leases run out.
                  abandoned.push(queues[o.h]!);
                  queues[o.h] = await open();
                  for (const h of held) if (h.h === o.h) h.h = undefined;
                  held = held.filter((h) => h.h !== undefined);
                  break;
              }
              for (let h = 0; h < HANDLES; h++) expect(await queues[h]!.size(), `size by handle ${h} after ${o.kind}`).toBe(items.length);
            }
            clock.advance(LEASE_MS + Math.max(...DELAYS));
            const rest: number[] = [];
            for (let lease = await queues[0]!.take(50); lease; lease = await queues[0]!.take(50)) {
              rest.push(...lease.entries.map((e) => e.value));
              await lease.ack();
            }
            expect(rest).toEqual(items.map((i) => i.n));
            for (const q of queues) expect(await q.size()).toBe(0);
          } finally {
            for (const q of queues) await q.close().catch(() => undefined);
            for (const q of abandoned) await q.close().catch(() => undefined);
            await place.teardown();
          }
        }),
        { numRuns: runs() },
      );
    }, 240_000);
  });
}

type PartOp =
  | { kind: 'push'; h: number; key: number; count: number }
  | { kind: 'take'; h: number; max: number }
  | { kind: 'ack' | 'release'; lease: number; mask: number }
  | { kind: 'tick' };

const partOp: fc.Arbitrary<PartOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('push' as const), h: handle, key: fc.integer({ min: -1, max: 3 }), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('take' as const), h: handle, max: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constantFrom('ack' as const, 'release' as const), lease: fc.nat(), mask: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'tick' as const }) },
);

/**
 * Several handles on a queue of partitions, taking at once: no item is held by two leases, the items of one key are
 * taken in the order pushed, every handle counts the same size, and in the end every item is acked exactly once.
 */
export function partitionedHandlesConformance(t: TestApi, label: string, harness: StoreHarness): void {
  const { describe, it, expect } = t;

  describe(`Queue of 3 partitions, ${HANDLES} handles: ${label}`, () => {
    it('no item held twice, each key in order, every item acked once, whichever handles push and take at once', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(partOp, { minLength: 1, maxLength: HANDLES }), { maxLength: 25 }), async (rounds) => {
          const place = await harness.setup();
          const clock = new FakeClock();
          const open = async () => Queue.open<number>({ name: 'parts', store: await place.open(), clock, partitions: 3, leaseMs: LEASE_MS });
          const queues: Queue<number>[] = [];
          for (let h = 0; h < HANDLES; h++) queues.push(await open());
          /** Per item: its key (-1: none), the round and push that stored it, whether acked, or held by a live lease. */
          const keyOf = new Map<number, number>();
          const pushedBy = new Map<number, { round: number; call: number }>();
          let calls = 0;
          const acked = new Set<number>();
          const holder = new Map<number, Lease<number>>();
          let leases: { lease: Lease<number>; live: Set<number> }[] = [];
          let next = 0;
          try {
            for (const [r, round] of rounds.entries()) {
              // Items released or acked in this round: a take at the same time may commit before or after.
              const moving = new Set<number>();
              // A round's steps run at once, each on its own handle's turn of the event loop.
              await Promise.all(
                round.map(async (o) => {
                  if (o.kind === 'push') {
                    const values = Array.from({ length: o.count }, () => next++);
                    const call = calls++;
                    for (const n of values) {
                      keyOf.set(n, o.key);
                      pushedBy.set(n, { round: r, call });
                    }
                    const options = o.key < 0 ? undefined : { key: `k${o.key}` };
                    await (o.count === 1 ? queues[o.h]!.push(values[0]!, options) : queues[o.h]!.pushMany(values, options));
                  } else if (o.kind === 'take') {
                    const lease = await queues[o.h]!.take(o.max);
                    if (!lease) return;
                    for (const e of lease.entries) {
                      expect(holder.has(e.value) && !moving.has(e.value), `item ${e.value} taken while another lease holds it`).toBe(false);
                      expect(acked.has(e.value), `item ${e.value} taken after its ack`).toBe(false);
                      const key = keyOf.get(e.value)!;
                      if (key >= 0) {
                        // Every item of its key pushed before it is acked, held, or taken in this very lease before
                        // it. Before it: in an earlier round, or earlier in the same push (pushes at once commit in
                        // either order).
                        const its = pushedBy.get(e.value)!;
                        const before = (n: number) => {
                          const at = pushedBy.get(n)!;
                          return at.round < its.round || (at.call === its.call && n < e.value);
                        };
                        for (const [n, k] of keyOf) {
                          if (k !== key || !before(n) || acked.has(n) || holder.has(n) || moving.has(n)) continue;
                          expect(lease.entries.findIndex((x) => x.value === n), `item ${e.value} of key ${key} taken before ${n}`).toBeGreaterThanOrEqual(0);
                          expect(lease.entries.findIndex((x) => x.value === n)).toBeLessThan(lease.entries.indexOf(e));
                        }
                      }
                    }
                    for (const e of lease.entries) holder.set(e.value, lease);
                    leases.push({ lease, live: new Set(lease.entries.map((e) => e.value)) });
                  } else if (o.kind === 'ack' || o.kind === 'release') {
                    const live = leases.filter((l) => l.live.size > 0);
                    const l = live[o.lease % Math.max(1, live.length)];
                    if (!l) return;
                    const picked = l.lease.entries.filter((e, i) => l.live.has(e.value) && (o.mask >> i) & 1);
                    for (const e of picked) {
                      l.live.delete(e.value);
                      moving.add(e.value);
                    }
                    await (o.kind === 'ack' ? l.lease.ack(picked.map((e) => e.id)) : l.lease.release(picked.map((e) => e.id)));
                    for (const e of picked) {
                      holder.delete(e.value);
                      if (o.kind === 'ack') acked.add(e.value);
                    }
                  }
                }),
              );
              if (round.some((o) => o.kind === 'tick')) {
                clock.advance(LEASE_MS);
                holder.clear();
                leases = [];
              }
              for (const q of queues) expect(await q.size()).toBe(next - acked.size);
            }
            clock.advance(LEASE_MS);
            for (let lease = await queues[1]!.take(50); lease; lease = await queues[1]!.take(50)) {
              for (const e of lease.entries) {
                expect(acked.has(e.value), `item ${e.value} handed out again after its ack`).toBe(false);
                acked.add(e.value);
              }
              await lease.ack();
            }
            expect(acked.size).toBe(next);
            for (const q of queues) expect(await q.size()).toBe(0);
          } finally {
            for (const q of queues) await q.close().catch(() => undefined);
            await place.teardown();
          }
        }),
        { numRuns: runs() },
      );
    }, 240_000);
  });
}
