import { afterEach, describe, expect, it, vi } from 'vitest';
import { HostHolds } from '../../src/outbox/host-holds.js';
import { FaultServer } from './fault-server.js';
import { io, limitFirst, next, pass, rig, until, type Rig } from './helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { Queue } from '../../src/core/queue.js';
import { FakeLockManager } from '../support/fake-locks.js';

/** The rig and the second server of the test that runs: one teardown for every describe below. */
let r: Rig;
let other: FaultServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await r?.teardown();
  vi.unstubAllGlobals();
  r = undefined as unknown as Rig;
  await other?.close();
  other = undefined;
});

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

  it("ends a hold for failing at the host's answer, never one it asked for (a Retry-After), whichever ends later", () => {
    const clock = new FakeClock();
    const holds = new HostHolds(clock);
    // A Retry-After, then a longer hold for failing (requests out met network errors): the answer ends the second only.
    holds.hold('http://a', 60_000);
    holds.hold('http://a', 120_000, true);
    clock.advance(1000);
    holds.answered('http://a');
    expect(holds.held('http://a')).toBe(true);
    clock.advance(58_999);
    expect(holds.held('http://a')).toBe(true);
    clock.advance(1);
    expect(holds.held('http://a')).toBe(false);
    // A hold for failing, then a shorter Retry-After: kept beside it (one hold for both lost it), and kept at the answer.
    holds.hold('http://b', 30_000, true);
    holds.hold('http://b', 20_000);
    holds.answered('http://b');
    expect(holds.held('http://b')).toBe(true);
    clock.advance(20_000);
    expect(holds.held('http://b')).toBe(false);
    // A hold for failing alone ends at the answer.
    holds.hold('http://c', 30_000, true);
    holds.answered('http://c');
    expect(holds.held('http://c')).toBe(false);
    expect(holds.size).toBe(0);
  });
});

describe('a Retry-After holds its host, not only its task', () => {

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
    await until(() => r.events('retry').length > 0); // the hold is set as the retry is told
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
    await until(() => r.events('retry').length > 0); // the hold is set as the retry is told
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

describe('host holds: edges', () => {

  it('a wall clock stepped back during a hold does not stretch the hold by the step', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    limitFirst(r.server, 60);
    await r.outbox.enqueue({ url: '/a' });
    await r.outbox.enqueue({ url: '/b' });
    r.outbox.start();
    await r.server.waitFor(1);
    await until(() => r.events('retry').length > 0); // the hold is set as the retry is told
    expect(r.server.received).toHaveLength(1);
    // An hour back (NTP): the 60 s asked for must still end about 60 s from now, as the task's own wait does.
    r.clock.step(-3_600_000);
    for (let i = 0; i < 4; i++) {
      r.clock.advance(60_000);
      await io(50);
    }
    await io(100);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/a', '/b']);
  });

  it('onBeforeSend that moves a task to another origin: a Retry-After from there holds the tasks stored for the origin they were stored for', async () => {
    other = await FaultServer.start();
    const target = other.url;
    // Tasks are stored for r.server's origin and sent to `other` (a region, a failover host, a proxy).
    r = await rig({ ordering: 'none', concurrency: 1, onBeforeSend: (task) => ({ ...task, url: task.url.replace(/^http:\/\/[^/]+/, target) }) });
    other.script(() => ({ status: 429, headers: { 'retry-after': '60' } }));
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/t${i}` });
    r.outbox.start();
    await other.waitFor(1);
    await io(300);
    // The host that answered asked for a minute's wait: one request, one attempt.
    expect(other.received).toHaveLength(1);
    expect(r.events('retry')).toHaveLength(1);
  });

  it("with batch, a task that goes alone (not batchable) and gets a Retry-After holds its host", async () => {
    r = await rig({ ordering: 'none', concurrency: 1, batch: { url: '/batch', maxItems: 10 } as never });
    r.server.script((q) => (q.path.startsWith('/put') ? { status: 429, headers: { 'retry-after': '60' } } : undefined));
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/put${i}`, method: 'PUT', body: 'x' });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(300);
    // Not a batch: its Retry-After holds its host, as README says of any answer judged a retry.
    expect(r.server.received).toHaveLength(1);
  });

  it('a Retry-After that sends its (old) task to dead as max-age holds no host: every other task there goes and is told the same', async () => {
    r = await rig({ ordering: 'none', concurrency: 1, retry: { maxAgeMs: 3_600_000 } });
    // The first task is old: 50 minutes when it is sent; the others are fresh.
    await r.outbox.enqueue({ url: '/old' });
    r.clock.advance(50 * 60_000);
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/fresh${i}` });
    // The host is rate limited for 15 minutes: each answer says so.
    r.server.script(() => ({ status: 429, headers: { 'retry-after': '900' } }));
    r.outbox.start();
    await r.server.waitFor(1);
    await io(400);
    expect(r.events('dead').map((d) => (d as { reason: string }).reason)).toContain('max-age');
    // The server asked for 15 minutes: the fresh tasks at that host wait them out unsent.
    expect(r.server.received).toHaveLength(1);
  });
});

describe('host holds: cost', () => {

  it('a backlog at a held host is looked through at every take while other hosts deliver', async () => {
    r = await rig({ ordering: 'none', concurrency: 2 });
    other = await FaultServer.start();
    limitFirst(r.server, 3600);
    await r.outbox.enqueue({ url: '/first' });
    r.outbox.start();
    await r.server.waitFor(1);
    await until(() => r.events('retry').length > 0); // the hold is set as the retry is told
    const HELD = 2000;
    for (let i = 0; i < HELD; i += 500) await r.outbox.enqueueMany(Array.from({ length: 500 }, (_, j) => ({ url: `/held${i + j}` })));
    const looks = vi.spyOn(HostHolds.prototype, 'held');
    await r.outbox.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ url: `${other!.url}/free${i}` })));
    await other.waitFor(50);
    await io(100);
    expect(other.delivered).toHaveLength(50);
    expect(r.server.received).toHaveLength(1);
    // Choosing the next tasks should cost about the tasks chosen, not the held backlog at every take.
    expect(looks.mock.calls.length).toBeLessThan(50 * 20);
  });
});

describe('host holds: priority', () => {

  for (const ordering of ['none', 'group'] as const) {
    it(`a high-priority task at a held host (${ordering}) does not make tasks to other hosts go back and be taken again at every turn`, async () => {
      r = await rig({ ordering, concurrency: 1 });
      other = await FaultServer.start();
      limitFirst(r.server, 3600);
      await r.outbox.enqueue({ url: '/first', group: 'a' });
      r.outbox.start();
      await r.server.waitFor(1);
      await until(() => r.events('retry').length > 0); // the hold is set as the retry is told
      await r.outbox.enqueue({ url: '/urgent', priority: 'high', group: 'c' });
      const takes = vi.spyOn(Queue.prototype, 'take');
      await r.outbox.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ url: `${other!.url}/free${i}`, group: 'b' })));
      await other.waitFor(40);
      await io(200);
      expect(other.delivered).toHaveLength(40);
      expect(r.server.received).toHaveLength(1);
      // Without the held task: about 6 takes (none) or 3 (group).
      expect(takes.mock.calls.length).toBeLessThan(12);
    });
  }
});

const DAY = 86_400_000;
/**
 * For tests that move the fake clock far while real requests are out: a jump past `timeoutMs` would time out a request
 * the server answers (and it would go again), which a loaded machine's slower I/O makes likely.
 */
const JUMPS = { timeoutMs: 7 * DAY };
const HOUR = 3_600_000;

/** Starts delivery of /first (answered 429 with Retry-After `value`), then enqueues `more`. */
async function holdHost(r: Rig, value = '60', extra: Record<string, string> = {}) {
  limitFirst(r.server, value, extra);
  await r.outbox.enqueue({ url: '/first' });
  r.outbox.start();
  await r.server.waitFor(1);
  await until(() => r.events('retry').length > 0); // the hold is set as the retry is told
}

describe('host holds: scenarios', () => {

  it('a day-long hold: about a timer a minute, nothing sent, all sent after', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 2 });
    await holdHost(r, String(86_400));
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/t${i}` });
    await io(100);
    expect(await pass(r.clock, HOUR, 240)).toBeLessThanOrEqual(65);
    expect(await pass(r.clock, DAY - HOUR - 2000, 20)).toBeLessThanOrEqual(1500);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 63_000, 3);
    await until(() => r.server.delivered.length >= 6);
    expect(r.server.delivered).toHaveLength(6);
  });

  it('Retry-After: 0 holds nothing', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    await holdHost(r, '0');
    await r.outbox.enqueue({ url: '/b' });
    await r.server.waitFor(2);
    await io(50);
    expect(r.server.delivered.map((q) => q.path)).toEqual(['/b']);
  });

  it('expiresAt during a hold: dead as expired at its time, unsent', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1 });
    await holdHost(r, '600');
    await r.outbox.enqueue({ url: '/exp', expiresAt: r.clock.now() + 30_000 });
    await io(50);
    const dead = next<{ reason: string }>(r.outbox, 'dead');
    await pass(r.clock, 31_000, 3);
    expect((await dead).reason).toBe('expired');
    expect(r.server.received).toHaveLength(1);
  });

  it('notBefore inside a hold: sent when the hold ends; notBefore after it: at notBefore', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1 });
    await holdHost(r, '60');
    await r.outbox.enqueue({ url: '/nb1', notBefore: r.clock.now() + 10_000 });
    await r.outbox.enqueue({ url: '/nb2', notBefore: r.clock.now() + 120_000 });
    await pass(r.clock, 55_000, 11);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 10_000, 2);
    await io(100);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/first', '/nb1']);
    await pass(r.clock, 60_000, 6);
    await io(100);
    expect(r.server.delivered.map((q) => q.path)).toContain('/nb2');
  });

  it('flush during a hold with tasks elsewhere: counts those, leaves the held ones, returns', async () => {
    r = await rig({ ordering: 'group', concurrency: 2 });
    other = await FaultServer.start();
    limitFirst(r.server, '600');
    await r.outbox.enqueue({ url: '/first', group: 'a' });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
    for (let i = 0; i < 3; i++) await r.outbox.enqueue({ url: `/h${i}`, group: `g${i}`, priority: 'high' });
    for (let i = 0; i < 4; i++) await r.outbox.enqueue({ url: `${other.url}/o${i}`, group: 'o' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 4, retried: 0, remaining: 4 });
    expect(r.server.received).toHaveLength(1);
  });

  it('told offline then online during a hold: the hold stands; all go after it', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1 });
    await holdHost(r, '60');
    await r.outbox.enqueue({ url: '/b' });
    r.outbox.setOnline(false);
    await pass(r.clock, 10_000, 2);
    r.outbox.setOnline(true);
    await io(100);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 62_000, 4);
    await until(() => r.server.delivered.length >= 2);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/b', '/first']);
  });

  it('probing (another host down) and a held host: the held host waits its hold, then goes; no spin', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1 });
    other = await FaultServer.start();
    await holdHost(r, '120');
    await r.outbox.enqueue({ url: '/b' });
    await other.down();
    // An answer a moment ago would put the down host's first failure on that host, not the network.
    await pass(r.clock, 2_000, 1);
    await r.outbox.enqueue({ url: `${other.url}/down` });
    await io(200);
    expect(r.outbox.online).toBe(false);
    const fired = await pass(r.clock, 110_000, 22);
    expect(fired).toBeLessThan(60);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 70_000, 7);
    await until(() => r.server.delivered.length >= 2);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/b', '/first']);
  });

  it('stop() and start() during a hold: still held, then all go', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1 });
    await holdHost(r, '60');
    await r.outbox.enqueue({ url: '/b' });
    await r.outbox.stop();
    r.outbox.start();
    await io(100);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 62_000, 4);
    await until(() => r.server.delivered.length >= 2);
    expect(r.server.delivered).toHaveLength(2);
  });

  it("classify 'retry' on a 200 with Retry-After holds the host", async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1, classify: (o) => (o instanceof Error ? 'retry' : o.headers.get('retry-after') ? 'retry' : 'sent') });
    r.server.next({ status: 200, headers: { 'retry-after': '60' } });
    await r.outbox.enqueue({ url: '/first' });
    r.outbox.start();
    await r.server.waitFor(1);
    await until(() => r.events('retry').length > 0); // the hold is set as the retry is told
    await r.outbox.enqueue({ url: '/b' });
    await io(100);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 62_000, 4);
    await until(() => r.server.received.length >= 3 && r.events('sent').length >= 2);
    // The server counts the first 200 too (classify made it a retry).
    expect(r.server.received.map((q) => q.path).sort()).toEqual(['/b', '/first', '/first']);
    expect(r.events('sent')).toHaveLength(2);
  });

  it('a hold set while the rest of the host is in flight or taken ahead: none stuck after it', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 3 });
    let first = true;
    r.server.script(() => {
      if (!first) return { delayMs: 80 };
      first = false;
      return { status: 429, headers: { 'retry-after': '60' }, delayMs: 40 };
    });
    await r.outbox.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ url: `/t${i}` })));
    r.outbox.start();
    await io(600);
    const before = r.server.received.length;
    expect(before).toBeLessThan(6);
    await pass(r.clock, 62_000, 4);
    await r.server.waitFor(31);
    await io(300);
    expect(new Set(r.server.delivered.map((q) => q.path)).size).toBe(30);
    expect(await r.outbox.list()).toEqual([]);
  });

  it('a hold set mid-flush: the flush returns at once with the right counts, the rest pending', async () => {
    r = await rig({ ordering: 'none', concurrency: 3 });
    let n = 0;
    r.server.script(() => (++n === 2 ? { status: 429, headers: { 'retry-after': '600' }, delayMs: 20 } : { delayMs: 60 }));
    await r.outbox.enqueueMany(Array.from({ length: 12 }, (_, i) => ({ url: `/t${i}` })));
    const result = await r.outbox.flush();
    const sent = r.server.delivered.length;
    expect(result).toMatchObject({ sent, retried: 1, dead: 0, remaining: 12 - sent });
    expect(r.server.received.length).toBe(sent + 1);
    expect(sent).toBeLessThan(6);
  });

  it('stop() and close() during a hold with a chain in flight and one taken ahead: both settle; a reopened handle sends every task once', async () => {
    r = await rig({ ordering: 'group', concurrency: 2 });
    let limited = false;
    r.server.script((q) => {
      if (q.path !== '/a1' || limited) return { delayMs: 40 };
      limited = true;
      return { status: 429, headers: { 'retry-after': '600' }, delayMs: 100 };
    });
    await r.outbox.enqueue({ url: '/a1', group: 'a' });
    for (let i = 0; i < 40; i++) await r.outbox.enqueue({ url: `/b${i}`, group: 'b' });
    r.outbox.start();
    await r.server.waitFor(3);
    await io(300);
    await r.outbox.stop();
    await r.outbox.close();
    const sentBefore = r.server.delivered.length;
    expect(sentBefore).toBeLessThan(15);
    await r.open();
    r.clock.advance(601_000);
    await r.outbox.flush();
    const paths = r.server.delivered.map((q) => q.path);
    expect(new Set(paths).size).toBe(41);
    expect(paths).toHaveLength(41);
  });

  it('a step forward past the hold: sent within a minute', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1 });
    await holdHost(r, '3600');
    await r.outbox.enqueue({ url: '/b' });
    r.clock.step(HOUR);
    await pass(r.clock, 61_000, 2);
    await until(() => r.server.delivered.length >= 2);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/b', '/first']);
  });

  it('an HTTP date a day ahead (with Date) holds the host a day', async () => {
    r = await rig({ ...JUMPS, ordering: 'none', concurrency: 1 });
    const now = r.clock.now();
    await holdHost(r, new Date(now + DAY).toUTCString(), { date: new Date(now).toUTCString() });
    await r.outbox.enqueue({ url: '/b' });
    await pass(r.clock, DAY - 120_000, 30);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 180_000, 6);
    await until(() => r.server.delivered.length >= 2);
    expect(r.server.delivered).toHaveLength(2);
  });
});

describe('host holds: two handles (tabs, one delivery lock)', () => {

  it('the delivering handle keeps the hold for tasks another handle enqueues; once it stops, the other learns again (documented)', async () => {
    const manager = new FakeLockManager();
    vi.stubGlobal('navigator', { locks: manager.context() });
    r = await rig({ ordering: 'none', concurrency: 1 });
    const a = r.outbox;
    await holdHost(r, '600');
    vi.stubGlobal('navigator', { locks: manager.context() });
    const b = await r.open();
    b.start();
    await b.enqueue({ url: '/from-b' });
    await io(300);
    expect(r.server.received).toHaveLength(1);
    await a.stop();
    await r.server.waitFor(2);
    await io(100);
    expect(r.server.delivered.map((q) => q.path)).toEqual(['/from-b']);
    // /first keeps its own stored wait in the other handle too.
    expect((await b.list()).map((t) => t.url.replace(/^http:\/\/[^/]+/, ''))).toEqual(['/first']);
  });
});
