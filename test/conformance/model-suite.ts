import fc from 'fast-check';
import { Queue, type Lease, type Store } from '../../src/index.js';
import { FakeClock, type StoreHarness, type TestApi } from './harness.js';

type Op =
  | { kind: 'push' }
  | { kind: 'pushMany'; count: number }
  | { kind: 'take'; max: number }
  | { kind: 'ack' | 'release'; lease: number; mask: number }
  | { kind: 'expire' | 'reopen' | 'crash' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'push' as const }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 12 }).map((count) => ({ kind: 'pushMany' as const, count })) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }).map((max) => ({ kind: 'take' as const, max })) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constantFrom('ack' as const, 'release' as const), lease: fc.nat(), mask: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'expire' as const }, { kind: 'reopen' as const }, { kind: 'crash' as const }) },
);

interface ModelItem {
  n: number;
  attempts: number;
  leased: boolean;
  holder?: Lease<number>;
}

const LEASE_MS = 1000;

function runs(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return Number(env?.SLUICE_MODEL_RUNS ?? 40);
}

/**
 * Random push/pushMany/take/ack/release/expire/reopen/crash sequences against a plain array model: the queue must
 * hand out the same items, in the same order, with the same attempt counts, and hold the same size throughout.
 */
export function modelConformance(t: TestApi, label: string, harness: StoreHarness, options: { reopenEveryStep?: boolean } = {}): void {
  const { describe, it, expect } = t;

  describe(`Queue model: ${label}`, () => {
    it(`agrees with an array model on random sequences${options.reopenEveryStep ? ', reopened after every step' : ''}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.integer({ min: 2, max: 6 }), async (ops, segmentItems) => {
          const place = await harness.setup();
          const clock = new FakeClock();
          const open = async (store?: Store) =>
            Queue.open<number>({ name: 'model', store: store ?? (await place.open()), clock, segmentItems, leaseMs: LEASE_MS });
          let q = await open();
          const model: ModelItem[] = [];
          let leases: Lease<number>[] = [];
          let next = 0;
          try {
            for (const o of ops) {
              switch (o.kind) {
                case 'push':
                  await q.push(next);
                  model.push({ n: next++, attempts: 0, leased: false });
                  break;
                case 'pushMany': {
                  const values = Array.from({ length: o.count }, () => next++);
                  await q.pushMany(values);
                  for (const n of values) model.push({ n, attempts: 0, leased: false });
                  break;
                }
                case 'take': {
                  const expected = model.filter((m) => !m.leased).slice(0, o.max);
                  const lease = await q.take(o.max);
                  expect(lease?.entries.map((e) => [e.value, e.attempts]) ?? []).toEqual(expected.map((m) => [m.n, m.attempts + 1]));
                  for (const m of expected) {
                    m.leased = true;
                    m.attempts++;
                    m.holder = lease;
                  }
                  if (lease) leases.push(lease);
                  break;
                }
                case 'ack':
                case 'release': {
                  if (leases.length === 0) break;
                  const lease = leases[o.lease % leases.length]!;
                  const picked = lease.entries.filter((_, i) => (o.mask >> i) & 1);
                  const ids = picked.map((e) => e.id);
                  const values = new Set(picked.map((e) => e.value));
                  const mine = (m: ModelItem) => values.has(m.n);
                  if (o.kind === 'ack') {
                    // An ack fails, changing nothing, when another lease holds one of the items now.
                    if (model.some((m) => mine(m) && m.leased && m.holder !== lease)) {
                      await expect(lease.ack(ids)).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
                    } else {
                      await lease.ack(ids);
                      for (let i = model.length - 1; i >= 0; i--) if (mine(model[i]!)) model.splice(i, 1);
                    }
                  } else {
                    await lease.release(ids);
                    for (const m of model) if (mine(m) && m.holder === lease) m.leased = false;
                  }
                  break;
                }
                case 'expire':
                  clock.advance(LEASE_MS);
                  for (const m of model) m.leased = false;
                  leases = [];
                  break;
                case 'reopen':
                  await q.close();
                  q = await open();
                  for (const m of model) m.leased = false;
                  leases = [];
                  break;
                case 'crash':
                  // The old handle is abandoned without closing; its leases run out.
                  q = await open();
                  clock.advance(LEASE_MS);
                  for (const m of model) m.leased = false;
                  leases = [];
                  break;
              }
              if (options.reopenEveryStep && o.kind !== 'reopen' && o.kind !== 'crash') {
                await q.close();
                q = await open();
                for (const m of model) m.leased = false;
                leases = [];
              }
              expect(await q.size()).toBe(model.length);
            }
            clock.advance(LEASE_MS);
            const rest: number[] = [];
            for (let lease = await q.take(50); lease; lease = await q.take(50)) {
              rest.push(...lease.entries.map((e) => e.value));
              await lease.ack();
            }
            expect(rest).toEqual(model.map((m) => m.n));
            // Everything acked: every segment's storage is freed.
            expect(await q.stats()).toMatchObject({ size: 0, segments: 0, bytes: 0 });
          } finally {
            await q.close().catch(() => undefined);
            await place.teardown();
          }
        }),
        { numRuns: runs() },
      );
    }, 120_000);
  });
}
