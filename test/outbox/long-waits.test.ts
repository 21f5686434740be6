import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FakeClock } from '../support/fake-clock.js';
import { io, next, pass, rig, type Rig } from './helpers.js';

const DAY = 86_400_000;

const HOUR = 3_600_000;

/**
 * Timers fired over an hour stepped 15 s at a time. A wait for a wall-clock moment looks at the clock once a minute
 * (a step forward, or a machine asleep, may have brought the moment nearer): about 60. A busy loop fires at every step.
 */
const wakesInAnHour = (clock: FakeClock) => pass(clock, HOUR, 240);

let r: Rig;
beforeEach(async () => {
  // Tasks that may grow older than the default 7 days: a wait past their age limit would make them dead at once.
  r = await rig({ retry: { maxAgeMs: 5 * 365 * 86_400_000 } });
});
afterEach(() => r.teardown());

describe('waits past what a timer holds (2^31 - 1 ms), in the background loop', () => {
  it('a Retry-After of 30 days (in seconds): not sent before, sent after, and no busy loop meanwhile (a look at the clock a minute)', async () => {
    r.server.next({ status: 503, headers: { 'retry-after': String(30 * 86_400) } });
    r.outbox.start();
    const retried = next(r.outbox, 'retry');
    await r.outbox.enqueue({ url: '/x' });
    await retried;
    await io();
    expect(await wakesInAnHour(r.clock)).toBeLessThanOrEqual(65);
    expect(await pass(r.clock, 30 * DAY - HOUR - 1000)).toBeLessThanOrEqual(10);
    expect(r.server.received).toHaveLength(1);
    const sent = next(r.outbox, 'sent');
    await pass(r.clock, 2000);
    await sent;
    expect(r.server.delivered).toHaveLength(1);
  });

  it('a Retry-After HTTP date two years ahead: waits, with a handful of timers', async () => {
    const date = new Date(r.clock.now() + 730 * DAY).toUTCString();
    // The server's clock is the test's (a date is read against the response's Date).
    r.server.next({ status: 429, headers: { 'retry-after': date, date: new Date(r.clock.now()).toUTCString() } });
    r.outbox.start();
    const retried = next<{ delayMs: number }>(r.outbox, 'retry');
    await r.outbox.enqueue({ url: '/x' });
    expect((await retried).delayMs).toBe(730 * DAY);
    await io();
    expect(await pass(r.clock, 365 * DAY, 20)).toBeLessThan(40);
    expect(r.server.received).toHaveLength(1);
    expect(await r.outbox.list()).toMatchObject([{ state: 'retrying', nextAttemptAt: r.clock.now() + 365 * DAY }]);
  });

  it('notBefore three weeks ahead: sent then, not before, and no busy loop', async () => {
    r.outbox.start();
    await r.outbox.enqueue({ url: '/x', notBefore: r.clock.now() + 21 * DAY });
    await io();
    expect(await wakesInAnHour(r.clock)).toBeLessThanOrEqual(65);
    expect(await pass(r.clock, 21 * DAY - HOUR - 1000)).toBeLessThanOrEqual(10);
    expect(r.server.received).toEqual([]);
    const sent = next(r.outbox, 'sent');
    await pass(r.clock, 2000);
    await sent;
  });

  it('told offline (setOnline(false)) while a retry wait ends: no timer spins until told online', async () => {
    r.server.next({ status: 503 });
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    r.outbox.setOnline(false);
    r.outbox.start();
    await io();
    expect(await pass(r.clock, 60_000, 30)).toBeLessThan(3);
    const sent = next(r.outbox, 'sent');
    r.outbox.setOnline(true);
    await sent;
  });
});

describe('the queue iterator waits through long holds', () => {
  it('a release delayed 30 days and a lease of 30 days: each comes back then, with a look at the clock a minute, no busy loop', async () => {
    const clock = new FakeClock();
    const queue = await Queue.open<string>({ name: 'q', store: new MemoryStore(), clock });
    try {
      await queue.pushMany(['delayed', 'leased']);
      const first = (await queue.take(1))!;
      await first.release(undefined, { delayMs: 30 * DAY });
      await queue.take(1, { leaseMs: 31 * DAY });
      const got: string[] = [];
      const controller = new AbortController();
      const iterating = (async () => {
        for await (const lease of queue.iterate({ signal: controller.signal })) {
          got.push(...lease.entries.map((e) => e.value));
          await lease.ack();
        }
      })();
      await io();
      expect(await wakesInAnHour(clock)).toBeLessThanOrEqual(65);
      expect(await pass(clock, 30 * DAY - HOUR - 1000)).toBeLessThanOrEqual(10);
      expect(got).toEqual([]);
      await pass(clock, 2000);
      expect(got).toEqual(['delayed']);
      expect(await pass(clock, DAY)).toBeLessThanOrEqual(10);
      expect(got).toEqual(['delayed', 'leased']);
      controller.abort();
      await iterating;
    } finally {
      await queue.close();
    }
  });
});
