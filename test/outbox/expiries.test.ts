import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Expiries } from '../../src/outbox/expiries.js';
import { PendingIndex } from '../../src/outbox/pending.js';
import { pendingOf, type Pending } from '../../src/outbox/pending-task.js';
import type { StoredTask } from '../../src/outbox/task.js';

const NOW = 1_000_000;

const stored = (seq: number, extra: Partial<StoredTask> = {}): StoredTask => ({ id: `t${seq}`, url: 'https://x.test/', method: 'POST', headers: {}, createdAt: 0, ...extra });

const taskArb = fc.record({
  group: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
  expiresAt: fc.option(fc.integer({ min: NOW - 10, max: NOW + 10 }), { nil: undefined }),
  state: fc.constantFrom('ready', 'busy', 'delayed', 'leased'),
  removed: fc.boolean(),
});

describe('PendingIndex.expired()', () => {
  it('gives every task expired by now that is neither in flight nor leased elsewhere, whatever its place in its lane; a task given back comes again', () => {
    fc.assert(
      fc.property(fc.array(taskArb, { maxLength: 40 }), fc.constantFrom('group' as const, 'fifo' as const, 'none' as const), (tasks, ordering) => {
        const index = new PendingIndex(ordering);
        const expected = new Set<number>();
        let earliest = Infinity;
        tasks.forEach((t, seq) => {
          const value = stored(seq, { ...(t.group !== undefined && { group: t.group }), ...(t.expiresAt !== undefined && { expiresAt: t.expiresAt }) });
          const pending = index.add(seq, value, 0);
          if (t.state === 'busy') index.busy(pending);
          if (t.state === 'delayed') index.wait(pending, NOW + 5, 'server');
          if (t.state === 'leased') index.wait(pending, NOW + 5, 'lease');
          if (t.removed) return index.remove(pending);
          if (t.expiresAt !== undefined) earliest = Math.min(earliest, t.expiresAt);
          if (t.expiresAt !== undefined && t.expiresAt <= NOW && t.state !== 'busy' && t.state !== 'leased') expected.add(seq);
        });
        expect(index.nextExpiry() ?? Infinity).toBe(earliest);
        const got = index.expired(NOW);
        expect(new Set(got.map((p) => p.seq))).toEqual(expected);
        expect(got.every((p) => p.state === 'busy')).toBe(true);
        // Being buried: not given again, until a failed burial gives one back.
        expect(index.expired(NOW)).toEqual([]);
        if (got.length > 0) {
          index.ready(got[0]!);
          expect(index.expired(NOW)).toEqual([got[0]]);
        }
      }),
    );
  });

  it('a task in flight at its expiresAt is given once it is back (a retry, a lease given back), and never once gone', () => {
    const index = new PendingIndex('group');
    const a = index.add(0, stored(0, { group: 'g', expiresAt: NOW }), 0);
    const b = index.add(1, stored(1, { group: 'g', expiresAt: NOW }), 0);
    index.busy(a);
    index.busy(b);
    expect(index.expired(NOW)).toEqual([]);
    index.ready(a);
    index.remove(b);
    expect(index.expired(NOW + 1)).toEqual([a]);
    index.remove(a);
    expect(index.nextExpiry()).toBeUndefined();
  });
});

describe('Expiries', () => {
  it('holds no more than about twice the tasks still pending: the entries of tasks gone are swept', () => {
    const tasks = new Map<number, Pending>();
    const expiries = new Expiries(tasks);
    for (let seq = 0; seq < 20_000; seq++) {
      const pending = pendingOf(seq, stored(seq, { expiresAt: NOW + 1e9 }), 0, 'none');
      tasks.set(seq, pending);
      expiries.add(pending);
      // A task sent soon after it came, as most are: ten pending at a time.
      const gone = tasks.get(seq - 10);
      if (gone) {
        tasks.delete(gone.seq);
        expiries.remove(gone);
      }
    }
    expect(tasks.size).toBe(10);
    expect(expiries.size).toBeLessThanOrEqual(64 + 2 * tasks.size + 1);
    expect(expiries.next()).toBe(NOW + 1e9);
  });
});
