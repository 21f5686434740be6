import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { failingCommit, next, rig, type Rig } from './helpers.js';

/** Lets promise callbacks and real I/O run while the fake clock stands still. */
const io = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

const paths = () => r.server.received.map((x) => x.path);

// API.md: an undelivered task is "dropped as dead ('expired')" at its expiresAt. These are the places where no request
// comes to take it then: behind its group's failing head, and offline.
describe('a task goes to dead at its expiresAt wherever it stands', () => {
  it("behind its group's failing head: dead at its expiresAt in a flush, unsent, and the head keeps its place", async () => {
    r.server.next({ status: 503, headers: { 'retry-after': '600' } });
    await r.outbox.enqueueMany([
      { url: '/a1', id: 'a1', group: 'a' },
      { url: '/a2', id: 'a2', group: 'a', expiresAt: r.clock.now() + 300 },
      { url: '/a3', id: 'a3', group: 'a' },
    ]);
    expect(await r.outbox.flush()).toMatchObject({ retried: 1, remaining: 3 });
    r.clock.advance(299);
    expect(await r.outbox.flush()).toMatchObject({ dead: 0, remaining: 3 });
    r.clock.advance(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1, remaining: 2 });
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id: 'a2' }, reason: 'expired', attempts: 0 }]);
    expect((await r.outbox.list()).map((t) => t.id)).toEqual(['a1', 'a3']);
    // The head goes when its wait ends, and the group after it, in order.
    r.clock.advance(600_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
    expect(paths()).toEqual(['/a1', '/a1', '/a3']);
  });

  it('behind a failing head, in the background run: buried when its expiresAt comes, with no flush or enqueue to wake it', async () => {
    r.server.next({ status: 503, headers: { 'retry-after': '600' } });
    await r.outbox.enqueueMany([
      { url: '/a1', id: 'a1', group: 'a' },
      { url: '/a2', id: 'a2', group: 'a', expiresAt: r.clock.now() + 300 },
    ]);
    const retried = next(r.outbox, 'retry');
    r.outbox.start();
    await retried;
    await io();
    expect(r.events('dead')).toEqual([]);
    const dead = next(r.outbox, 'dead');
    r.clock.advance(300);
    expect(await dead).toMatchObject({ task: { id: 'a2' }, reason: 'expired' });
    expect(paths()).toEqual(['/a1']);
    expect(await r.outbox.size()).toBe(1);
  });

  it('a whole chain behind the head, in every lane ordering: each buried at its own expiresAt', async () => {
    for (const ordering of ['group', 'fifo'] as const) {
      await r.reopen({ ordering });
      r.server.next({ status: 503, headers: { 'retry-after': '600' } });
      const base = r.clock.now();
      await r.outbox.enqueueMany([
        { url: `/${ordering}-head`, group: 'g' },
        ...[100, 200, 300].map((ms) => ({ url: `/${ordering}-${ms}`, group: 'g', expiresAt: base + ms })),
      ]);
      expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
      for (const [ms, remaining] of [[100, 3], [200, 2], [300, 1]]) {
        r.clock.advance(100);
        expect(await r.outbox.flush()).toMatchObject({ dead: 1, remaining });
        expect((await r.outbox.dead.list()).at(-1)).toMatchObject({ task: { url: expect.stringContaining(`/${ordering}-${ms}`) }, reason: 'expired' });
      }
      r.clock.advance(600_000);
      expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    }
  });

  it('offline: every task is dead at its expiresAt, with no probe made for it', async () => {
    await r.reopen({ ordering: 'none', concurrency: 4 });
    await r.server.down();
    await r.outbox.enqueueMany(Array.from({ length: 8 }, (_, i) => ({ url: `/t${i}`, expiresAt: r.clock.now() + 2000 })));
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    const calls = r.calls.length;
    r.clock.advance(2000);
    expect(await r.outbox.flush()).toMatchObject({ dead: 8, remaining: 0 });
    expect(r.calls.length).toBe(calls);
    expect((await r.outbox.dead.list()).map((l) => l.reason)).toEqual(Array(8).fill('expired'));
  });

  it('told offline (setOnline(false)), in the background run: buried at its expiresAt, nothing sent', async () => {
    r.outbox.setOnline(false);
    await r.outbox.enqueue({ url: '/x', expiresAt: r.clock.now() + 5000 });
    r.outbox.start();
    await io();
    const dead = next(r.outbox, 'dead');
    r.clock.advance(5000);
    expect(await dead).toMatchObject({ reason: 'expired', attempts: 0 });
    expect(r.calls).toEqual([]);
    expect(await r.outbox.size()).toBe(0);
  });

  it('a burial that fails gives the task back: told, and buried after a retry delay, not left pending', async () => {
    const { store, arm } = failingCommit('api.dead');
    await r.reopen({ store });
    r.server.next({ status: 503, headers: { 'retry-after': '600' } });
    await r.outbox.enqueueMany([
      { url: '/a1', id: 'a1', group: 'a' },
      { url: '/a2', id: 'a2', group: 'a', expiresAt: r.clock.now() + 300 },
    ]);
    await r.outbox.flush();
    r.clock.advance(300);
    arm();
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 0, remaining: 2 });
    expect(r.events('error')).toMatchObject([{ error: { message: expect.stringContaining('the disk is gone') } }]);
    // Given back, it waits a retry delay (a store that keeps refusing is not asked again at once), then is buried.
    r.clock.advance(1000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1, remaining: 1 });
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id: 'a2' }, reason: 'expired', attempts: 0 }]);
    expect((await r.outbox.list()).map((t) => t.id)).toEqual(['a1']);
  });

  it('a store that keeps refusing the burial of thousands: each try waits longer (1 s doubling), never a loop, and nothing is lost', async () => {
    await r.reopen({ store: refusingDead() });
    r.server.next({ status: 503, headers: { 'retry-after': '6000' } });
    await r.outbox.enqueueMany([
      { url: '/a1', id: 'a1', group: 'a' },
      ...Array.from({ length: 3000 }, (_, i) => ({ url: `/e${i}`, group: 'a', expiresAt: r.clock.now() + 300 })),
    ]);
    await r.outbox.flush();
    r.clock.advance(300);
    expect(await r.outbox.flush()).toMatchObject({ dead: 0, remaining: 3001 });
    expect(r.events('error')).toHaveLength(1);
    r.outbox.start();
    // Two minutes in steps of a second: tries at about +1, +3, +7, +15, +31, +63 and +123 s at most.
    for (let i = 0; i < 120; i++) {
      r.clock.advance(1000);
      await io(5);
    }
    const errors = r.events('error').length;
    expect(errors).toBeGreaterThan(3);
    expect(errors).toBeLessThanOrEqual(9);
    expect(await r.outbox.size()).toBe(3001);
  });

  it('buried at its expiresAt while a request is out and holds the only slot: no answer has to come first', async () => {
    await r.reopen({ ordering: 'none', concurrency: 1 });
    r.server.next({ hang: true });
    await r.outbox.enqueue({ url: '/slow' });
    r.outbox.start();
    await r.server.waitFor(1);
    await r.outbox.enqueue({ url: '/x', expiresAt: r.clock.now() + 300 });
    await io();
    const dead = next(r.outbox, 'dead');
    r.clock.advance(300);
    expect(await dead).toMatchObject({ reason: 'expired', attempts: 0 });
    expect(r.server.received.map((x) => x.path)).toEqual(['/slow']);
  });
});

/** A MemoryStore whose dead letters refuse every write. */
function refusingDead(): MemoryStore {
  const store = new MemoryStore();
  const open = store.open.bind(store);
  store.open = async (opened) => {
    const storage = await open(opened);
    if (opened === 'api.dead') storage.commit = () => Promise.reject(new Error('the disk is gone'));
    return storage;
  };
  return store;
}
