import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { next, rig, type Rig } from './helpers.js';

const DAY = 86_400_000;
const io = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

let r: Rig;
beforeEach(async () => {
  r = await rig({ timeoutMs: 5000 });
});
afterEach(() => r.teardown());

describe('a wall-clock step never makes a task both sent and dead, nor neither', () => {
  it('a step forward past expiresAt and maxAgeMs during a request that succeeds: sent once, not dead', async () => {
    r.server.plan('t', [{ status: 200, delayMs: 200 }]);
    await r.outbox.enqueue({ url: '/x', id: 't', expiresAt: r.clock.now() + 60_000 });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    r.clock.step(8 * DAY);
    expect(await flushing).toMatchObject({ sent: 1, dead: 0, remaining: 0 });
    expect(r.events('sent')).toHaveLength(1);
    expect(r.events('dead')).toEqual([]);
    expect(await r.outbox.dead.list()).toEqual([]);
  });

  it('expiry is decided before a send: a task whose expiresAt passed (stepped) while it waited is dead, never sent', async () => {
    r.server.next({ status: 503 });
    await r.outbox.enqueue({ url: '/x', expiresAt: r.clock.now() + 60_000 });
    await r.outbox.flush();
    r.clock.step(DAY);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1 });
    expect(r.server.received).toHaveLength(1);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'expired' }]);
  });

  it("'drop-oldest' never evicts a task in flight, whatever the clock says about its lease", async () => {
    await r.reopen({ limits: { maxTasks: 2, overflow: 'drop-oldest' }, ordering: 'none' });
    r.server.plan('inflight', [{ status: 200, delayMs: 300 }]);
    await r.outbox.enqueue({ url: '/a', id: 'inflight' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    // Far past the request's lease (timeout + 60 s), as far as the wall clock can tell.
    r.clock.step(DAY);
    await r.outbox.enqueueMany([{ url: '/b', id: 'b' }]);
    await r.outbox.enqueueMany([{ url: '/c', id: 'c' }]);
    await flushing;
    expect(r.events('sent').map((e) => e.task.id)).toContain('inflight');
    expect(r.events('dead').map((e) => e.task.id)).toEqual(['b']);
    expect(r.events('dead').map((e) => e.task.id)).not.toContain('inflight');
  });

  it('the timeout runs on the monotonic clock: a step forward does not cut a request short, a step back does not stretch it', async () => {
    r.server.next({ hang: true });
    await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    r.clock.step(DAY);
    await io();
    expect(r.events('retry')).toEqual([]);
    r.clock.step(-2 * DAY);
    r.clock.advance(5000);
    expect(await flushing).toMatchObject({ retried: 1 });
  });

  it('a step back during a retry wait does not stretch the wait by the step', async () => {
    r.server.next({ status: 503 });
    r.outbox.start();
    const retried = next(r.outbox, 'retry');
    await r.outbox.enqueue({ url: '/x' });
    await retried;
    await io();
    // The delay is 500 ms (jitter 0.5 of 1 s); the wall clock goes back a year meanwhile.
    r.clock.step(-365 * DAY);
    await r.outbox.flush();
    const sent = next(r.outbox, 'sent');
    r.clock.advance(500);
    await sent;
    expect(r.server.delivered).toHaveLength(1);
  });

  it("a step back after a delivery does not send a task whose notBefore is still ahead on the clock now", async () => {
    await r.outbox.enqueue({ url: '/first' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    r.clock.step(-3_600_000);
    await r.outbox.enqueue({ url: '/later', notBefore: r.clock.now() + 500 });
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
    expect(r.server.delivered).toHaveLength(1);
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
  });

  it('a step back during the request keeps the delay its response asked for (Retry-After): not moved back twice', async () => {
    r.server.next({ status: 429, headers: { 'retry-after': '600' }, delayMs: 200 });
    r.outbox.start();
    const retried = next(r.outbox, 'retry');
    await r.outbox.enqueue({ url: '/x' });
    await r.server.waitFor(1);
    r.clock.step(-3_600_000);
    await retried;
    // Nine minutes of the ten it asked for: nothing goes.
    for (let minute = 0; minute < 9; minute++) {
      r.clock.advance(60_000);
      await io(5);
    }
    expect(r.server.received).toHaveLength(1);
    const sent = next(r.outbox, 'sent');
    r.clock.advance(61_000);
    await sent;
    expect(r.server.delivered).toHaveLength(1);
  });

  it('a step back while offline does not hold the probes off for as long as it stepped', async () => {
    await r.server.down();
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    await r.server.up();
    r.clock.step(-30 * DAY);
    r.clock.advance(300_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.outbox.online).toBe(true);
  });
});

describe('the background run and a wall-clock step forward (NTP; a machine asleep, its monotonic clock standing still)', () => {
  it('a task whose notBefore the step passed is sent within a minute, not after the wait left on the monotonic clock', async () => {
    await r.outbox.enqueue({ url: '/x', id: 'later', notBefore: r.clock.now() + 3_600_000 });
    r.outbox.start();
    await io();
    expect(r.server.received).toEqual([]);
    const sent = next(r.outbox, 'sent');
    r.clock.step(3_600_000);
    r.clock.advance(60_000);
    expect(await sent).toMatchObject({ task: { id: 'later' } });
  });
});
