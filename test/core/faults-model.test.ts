import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, Queue, SluiceError, type Lease } from '../../src/index.js';
import { FaultyStore } from '../support/faulty-store.js';
import { FakeClock } from '../support/fake-clock.js';

const RUNS = Number(process.env.SLUICE_PROPERTY_RUNS ?? 60);
const LEASE_MS = 1000;

type Op =
  | { kind: 'push'; key: number }
  | { kind: 'take'; max: number }
  | { kind: 'ack' | 'release'; lease: number }
  | { kind: 'shift' | 'expire' }
  | { kind: 'remove'; pick: number }
  | { kind: 'fault'; method: 'commit' | 'token' | 'load'; part: number; landed: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.nat(3).map((key) => ({ kind: 'push' as const, key })),
  fc.integer({ min: 1, max: 4 }).map((max) => ({ kind: 'take' as const, max })),
  fc.record({ kind: fc.constantFrom('ack' as const, 'release' as const), lease: fc.nat() }),
  fc.constantFrom({ kind: 'shift' as const }, { kind: 'expire' as const }),
  fc.nat().map((pick) => ({ kind: 'remove' as const, pick })),
  fc.record({ kind: fc.constant('fault' as const), method: fc.constantFrom('commit' as const, 'token' as const, 'load' as const), part: fc.nat(2), landed: fc.boolean() }),
);

describe('a queue whose store fails at random', () => {
  it('loses no resolved push, and never hands out again what a resolved ack, remove or shift took away, whichever of its handles acts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(op, fc.nat(2)), { maxLength: 30 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), async (steps, partitions, handles) => {
        const inner = new MemoryStore();
        const store = new FaultyStore(inner);
        const clock = new FakeClock();
        // Handles on one store, as tabs or processes: each step is one handle's, the faults meet whichever calls next.
        const queues: Queue<number>[] = [];
        for (let h = 0; h < handles; h++) queues.push(await Queue.open<number>({ name: 'q', store, clock, partitions, leaseMs: LEASE_MS }));
        const stored = new Set<number>();
        const gone = new Set<number>();
        const maybeGone = new Set<number>();
        const ids = new Map<number, string>();
        const leases: Lease<number>[] = [];
        let next = 0;
        const refused = (error: unknown) => {
          if (!(error instanceof SluiceError)) throw error;
        };
        for (const [o, h] of steps) {
          const q = queues[h % handles]!;
          switch (o.kind) {
            case 'fault': {
              const storage = o.part === 0 || o.part >= partitions ? 'q' : `q.p${o.part}`;
              store.fail(o.method, { storage, landed: o.method === 'commit' && o.landed });
              break;
            }
            case 'push': {
              const n = next++;
              await q.push(n, { key: String(o.key) }).then((id) => (stored.add(n), ids.set(n, id)), refused);
              break;
            }
            case 'take': {
              const lease = await q.take(o.max).catch(refused);
              for (const e of lease?.entries ?? []) expect(gone.has(e.value), `item ${e.value} handed out again after it was acked or removed`).toBe(false);
              if (lease) leases.push(lease);
              break;
            }
            case 'ack':
            case 'release': {
              const lease = leases.splice(o.lease % Math.max(1, leases.length), 1)[0];
              if (!lease) break;
              const values = lease.entries.map((e) => e.value);
              if (o.kind === 'ack') {
                await lease.ack().then(
                  () => values.forEach((v) => gone.add(v)),
                  (e: unknown) => (refused(e), values.forEach((v) => maybeGone.add(v))),
                );
              } else await lease.release().catch(refused);
              break;
            }
            case 'shift':
              await q.shift().then((v) => v !== undefined && gone.add(v), refused);
              break;
            case 'remove': {
              const known = [...ids];
              const chosen = known[o.pick % Math.max(1, known.length)];
              if (!chosen) break;
              await q.remove([chosen[1]]).then(
                () => gone.add(chosen[0]),
                (e: unknown) => (refused(e), maybeGone.add(chosen[0])),
              );
              break;
            }
            case 'expire':
              clock.advance(LEASE_MS);
              leases.length = 0;
              break;
          }
        }
        store.heal();
        for (const q of queues) await q.close().catch(refused);
        clock.advance(LEASE_MS);
        const fresh = await Queue.open<number>({ name: 'q', store: inner, clock, partitions });
        const seen: number[] = [];
        for (let lease = await fresh.take(50); lease; lease = await fresh.take(50)) {
          seen.push(...lease.entries.map((e) => e.value));
          await lease.ack();
        }
        await fresh.close();
        // Shift's item lost from view: a shift that rejected may have taken an item whose ack landed.
        expect(new Set(seen).size).toBe(seen.length);
        for (const n of seen) expect(gone.has(n), `item ${n} handed out again after it was acked or removed`).toBe(false);
        const seenSet = new Set(seen);
        for (const n of stored) if (!gone.has(n) && !maybeGone.has(n)) expect(seenSet.has(n), `item ${n} lost`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
