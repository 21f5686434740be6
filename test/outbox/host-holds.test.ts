import { afterEach, describe, expect, it } from 'vitest';
import { HostHolds } from '../../src/outbox/host-holds.js';
import { FaultServer } from './fault-server.js';
import { rig, type Rig } from './helpers.js';
import { FakeClock } from '../support/fake-clock.js';

/** Lets promise callbacks and real I/O run while the fake clock stands still. */
const io = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

describe('HostHolds', () => {
  it('holds an origin for its time, a later end winning, and forgets it once over', () => {
    const clock = new FakeClock();
    const holds = new HostHolds(clock);
    holds.hold('http://a', 1000);
    holds.hold('http://a', 500);
    clock.advance(999);
    expect(holds.held('http://a')).toBe(true);
    expect(holds.held('http://b')).toBe(false);
    holds.hold('http://a', 1001);
    expect(holds.next()).toBe(clock.now() + 1001);
    clock.advance(1001);
    expect(holds.held('http://a')).toBe(false);
    expect(holds.size).toBe(0);
  });

  it('next() forgets holds that ended, so that an idle outbox sets no timer for them', () => {
    const clock = new FakeClock();
    const holds = new HostHolds(clock);
    holds.hold('http://a', 100);
    holds.hold('http://b', 300);
    clock.advance(200);
    expect(holds.next()).toBe(clock.now() + 100);
    expect(holds.size).toBe(1);
    clock.advance(100);
    expect(holds.next()).toBeUndefined();
  });

  it('ends by the first of two clocks: a wall clock stepped back does not stretch it, a step forward (a sleep) ends it', () => {
    const clock = new FakeClock();
    const holds = new HostHolds(clock);
    holds.hold('http://a', 60_000);
    clock.step(-3_600_000);
    expect(holds.next()).toBe(clock.now() + 60_000);
    clock.advance(60_000);
    expect(holds.held('http://a')).toBe(false);
    holds.hold('http://b', 60_000);
    // A machine asleep for an hour: the monotonic clock stood still, the wall clock moved on.
    clock.step(3_600_000);
    expect(holds.held('http://b')).toBe(false);
  });

  it('remembers at most 1 000 origins, dropping the one whose hold ends first', () => {
    const holds = new HostHolds(new FakeClock());
    for (let i = 0; i < 1001; i++) holds.hold(`http://h${i}`, 10_000 - i);
    expect(holds.size).toBe(1000);
    expect(holds.held('http://h1000')).toBe(false);
    expect(holds.held('http://h0')).toBe(true);
  });
});

describe('a Retry-After holds its host, not only its task', () => {
  let r: Rig;
  let other: FaultServer | undefined;
  afterEach(async () => {
    await r.teardown();
    await other?.close();
    other = undefined;
  });

  /** Sends 429 with Retry-After: 60 to the first request, 200 to every other. */
  const limitFirst = (server: FaultServer) => {
    let first = true;
    server.script(() => {
      if (!first) return undefined;
      first = false;
      return { status: 429, headers: { 'retry-after': '60' } };
    });
  };

  it("without ordering: the host's other tasks wait out the hold (no request, no attempt), then all go", async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    limitFirst(r.server);
    for (let i = 0; i < 20; i++) await r.outbox.enqueue({ url: `/t${i}` });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(200);
    // Before, each task due at the host went and was told the same: 20 requests, 20 attempts.
    expect(r.server.received).toHaveLength(1);
    expect(r.events('retry')).toHaveLength(1);
    r.clock.advance(59_000);
    await io(100);
    expect(r.server.received).toHaveLength(1);
    r.clock.advance(1_500);
    await r.server.waitFor(21);
    await io(100);
    expect(r.server.delivered).toHaveLength(20);
    expect(r.events('sent').filter((sent) => sent.attempts > 1)).toHaveLength(1);
  });

  it("in groups: another group's tasks at that host wait too", async () => {
    r = await rig({ ordering: 'group' });
    limitFirst(r.server);
    await r.outbox.enqueue({ url: '/a1', group: 'a' });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(100);
    for (let i = 0; i < 3; i++) await r.outbox.enqueue({ url: `/b${i}`, group: 'b' });
    await io(200);
    expect(r.server.received.map((q) => q.path)).toEqual(['/a1']);
    r.clock.advance(61_000);
    await r.server.waitFor(5);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/a1', '/b0', '/b1', '/b2']);
  });

  it("in groups: another group's chain in flight at that host stops before its next request", async () => {
    r = await rig({ ordering: 'group' });
    let limited = false;
    r.server.script((request) => {
      if (request.path !== '/a1' || limited) return { delayMs: 60 };
      limited = true;
      return { status: 429, headers: { 'retry-after': '60' }, delayMs: 150 };
    });
    await r.outbox.enqueue({ url: '/a1', group: 'a' });
    for (let i = 0; i < 10; i++) await r.outbox.enqueue({ url: `/b${i}`, group: 'b' });
    r.outbox.start();
    await r.server.waitFor(3);
    await io(700);
    const before = r.server.received.filter((q) => q.path.startsWith('/b')).length;
    // The chain went on while /a1 was out (about 150 ms, a request of its every 60 ms), and stopped at the 429.
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(6);
    r.clock.advance(61_000);
    await r.server.waitFor(12);
    await io(100);
    expect(r.server.delivered.map((q) => q.path)).toEqual(expect.arrayContaining(['/a1', ...Array.from({ length: 10 }, (_, i) => `/b${i}`)]));
    expect(r.server.delivered.filter((q) => q.path.startsWith('/b')).map((q) => q.path)).toEqual(Array.from({ length: 10 }, (_, i) => `/b${i}`));
  });

  it('tasks to another host keep going', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    other = await FaultServer.start();
    limitFirst(r.server);
    await r.outbox.enqueue({ url: '/held' });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(100);
    await r.outbox.enqueue({ url: '/held-too' });
    for (let i = 0; i < 3; i++) await r.outbox.enqueue({ url: `${other.url}/free${i}` });
    await other.waitFor(3);
    await io(100);
    expect(other.delivered).toHaveLength(3);
    expect(r.server.received).toHaveLength(1);
  });

  it('a flush during a hold settles without sending the held tasks, and leaves them pending', async () => {
    r = await rig({ ordering: 'none' });
    limitFirst(r.server);
    await r.outbox.enqueue({ url: '/first' });
    await r.outbox.flush();
    for (let i = 0; i < 3; i++) await r.outbox.enqueue({ url: `/later${i}` });
    const result = await r.outbox.flush();
    expect(result.sent).toBe(0);
    expect(r.server.received).toHaveLength(1);
    expect(result.remaining).toBe(4);
  });
});
