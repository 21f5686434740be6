import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FakeClock } from '../support/fake-clock.js';
import { FakeLockManager } from '../support/fake-locks.js';
import { FaultServer } from './fault-server.js';
import { next, rig, type Rig } from './helpers.js';

const io = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));
const DAY = 86_400_000;
const HOUR = 3_600_000;

async function pass(clock: FakeClock, ms: number, steps = 10): Promise<number> {
  const before = clock.fired;
  for (let i = 0; i < steps; i++) {
    clock.advance(ms / steps);
    await io(5);
  }
  return clock.fired - before;
}

const limitFirst = (server: FaultServer, value = '60', extra: Record<string, string> = {}) => {
  let first = true;
  server.script(() => {
    if (!first) return undefined;
    first = false;
    return { status: 429, headers: { 'retry-after': value, ...extra } };
  });
};

/** Starts delivery of /first (answered 429 with Retry-After `value`), then enqueues `more`. */
async function holdHost(r: Rig, value = '60', extra: Record<string, string> = {}) {
  limitFirst(r.server, value, extra);
  await r.outbox.enqueue({ url: '/first' });
  r.outbox.start();
  await r.server.waitFor(1);
  await io(100);
}

describe('host holds: what held', () => {
  let r: Rig;
  let other: FaultServer | undefined;
  afterEach(async () => {
    await r.teardown();
    await other?.close();
    other = undefined;
  });

  it('a day-long hold: about a timer a minute, nothing sent, all sent after', async () => {
    r = await rig({ ordering: 'none', concurrency: 2 });
    await holdHost(r, String(86_400));
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/t${i}` });
    await io(100);
    expect(await pass(r.clock, HOUR, 240)).toBeLessThanOrEqual(65);
    expect(await pass(r.clock, DAY - HOUR - 2000, 20)).toBeLessThanOrEqual(1500);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 63_000, 3);
    await io(200);
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
    r = await rig({ ordering: 'none', concurrency: 1 });
    await holdHost(r, '600');
    await r.outbox.enqueue({ url: '/exp', expiresAt: r.clock.now() + 30_000 });
    await io(50);
    const dead = next<{ reason: string }>(r.outbox, 'dead');
    await pass(r.clock, 31_000, 3);
    expect((await dead).reason).toBe('expired');
    expect(r.server.received).toHaveLength(1);
  });

  it('notBefore inside a hold: sent when the hold ends; notBefore after it: at notBefore', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
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
    r = await rig({ ordering: 'none', concurrency: 1 });
    await holdHost(r, '60');
    await r.outbox.enqueue({ url: '/b' });
    r.outbox.setOnline(false);
    await pass(r.clock, 10_000, 2);
    r.outbox.setOnline(true);
    await io(100);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 62_000, 4);
    await io(200);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/b', '/first']);
  });

  it('probing (another host down) and a held host: the held host waits its hold, then goes; no spin', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    other = await FaultServer.start();
    await holdHost(r, '120');
    await r.outbox.enqueue({ url: '/b' });
    await other.down();
    await r.outbox.enqueue({ url: `${other.url}/down` });
    await io(200);
    expect(r.outbox.online).toBe(false);
    const fired = await pass(r.clock, 110_000, 22);
    expect(fired).toBeLessThan(60);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 70_000, 7);
    await io(200);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/b', '/first']);
  });

  it('stop() and start() during a hold: still held, then all go', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    await holdHost(r, '60');
    await r.outbox.enqueue({ url: '/b' });
    await r.outbox.stop();
    r.outbox.start();
    await io(100);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 62_000, 4);
    await io(200);
    expect(r.server.delivered).toHaveLength(2);
  });

  it("classify 'retry' on a 200 with Retry-After holds the host", async () => {
    r = await rig({ ordering: 'none', concurrency: 1, classify: (o) => (o instanceof Error ? 'retry' : o.headers.get('retry-after') ? 'retry' : 'sent') });
    r.server.next({ status: 200, headers: { 'retry-after': '60' } });
    await r.outbox.enqueue({ url: '/first' });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(100);
    await r.outbox.enqueue({ url: '/b' });
    await io(100);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 62_000, 4);
    await io(200);
    // The server counts the first 200 too (classify made it a retry).
    expect(r.server.received.map((q) => q.path).sort()).toEqual(['/b', '/first', '/first']);
    expect(r.events('sent')).toHaveLength(2);
  });

  it('a hold set while the rest of the host is in flight or taken ahead: none stuck after it', async () => {
    r = await rig({ ordering: 'none', concurrency: 3 });
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
    r = await rig({ ordering: 'none', concurrency: 1 });
    await holdHost(r, '3600');
    await r.outbox.enqueue({ url: '/b' });
    r.clock.step(HOUR);
    await pass(r.clock, 61_000, 2);
    await io(200);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/b', '/first']);
  });

  it('an HTTP date a day ahead (with Date) holds the host a day', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    const now = r.clock.now();
    await holdHost(r, new Date(now + DAY).toUTCString(), { date: new Date(now).toUTCString() });
    await r.outbox.enqueue({ url: '/b' });
    await pass(r.clock, DAY - 120_000, 30);
    expect(r.server.received).toHaveLength(1);
    await pass(r.clock, 180_000, 6);
    await io(200);
    expect(r.server.delivered).toHaveLength(2);
  });
});

describe('host holds: two handles (tabs, one delivery lock)', () => {
  let r: Rig;
  afterEach(async () => {
    await r.teardown();
    vi.unstubAllGlobals();
  });

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
