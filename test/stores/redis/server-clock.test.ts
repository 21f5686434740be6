import { afterEach, expect, it, vi } from 'vitest';
import { Outbox, Queue } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { describeRedis } from '../../support/redis-suite.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const HOUR = 3_600_000;

/** From now on, this machine's wall clock reads `offsetMs` off (an NTP step, a laptop waking, a skewed machine). */
function stepWallClock(offsetMs: number): void {
  const now = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => now() + offsetMs);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describeRedis("RedisStore's clock: the server's time", (server) => {
  const stores: RedisStore[] = [];
  const store = (prefix: string) => {
    const made = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    stores.push(made);
    return made;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  // Before, each handle judged leases by its own wall clock: a machine an hour ahead took an item leased elsewhere
  // at once, and its ack of a lease that had ended removed the item another machine held, both acks resolving.
  it("a machine whose wall clock runs an hour ahead neither takes an item leased elsewhere nor acks it away", async () => {
    const a = await Queue.open<string>({ name: 'q', store: store('ahead:') });
    const b = await Queue.open<string>({ name: 'q', store: store('ahead:') });
    await a.push('x');
    const old = await a.take(1, { leaseMs: 200 });
    await sleep(300);
    const live = await b.take(1, { leaseMs: 30_000 });
    expect(live?.entries.map((e) => e.value)).toEqual(['x']);
    stepWallClock(HOUR);
    expect(await a.take(1)).toBeUndefined();
    await expect(old!.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
    expect((await b.stats()).leased).toBe(1);
    await live!.ack();
    expect((await a.stats()).size).toBe(0);
    await a.close();
    await b.close();
  });

  it('a delay released by a machine an hour ahead ends when it was asked to, on every machine', async () => {
    const s = store('delay:');
    const a = await Queue.open<string>({ name: 'q', store: s });
    await a.push('x');
    stepWallClock(HOUR);
    await (await a.take(1))!.release(undefined, { delayMs: 300 });
    vi.restoreAllMocks();
    const b = await Queue.open<string>({ name: 'q', store: store('delay:') });
    expect(await b.take(1)).toBeUndefined();
    await sleep(400);
    expect((await b.take(1))?.entries.map((e) => e.value)).toEqual(['x']);
    await a.close();
    await b.close();
  });

  it('is the default clock of the queues and outboxes opened on the store; a clock given still wins', async () => {
    const s = store('default:');
    stepWallClock(HOUR);
    const truth = () => Date.now() - HOUR;
    const q = await Queue.open<string>({ name: 'q', store: s });
    await q.push('x');
    // Under the server's time the lease ends a minute from now, not an hour and a minute.
    const lease = await q.take(1, { leaseMs: 60_000 });
    expect(Math.abs(lease!.expiresAt - (truth() + 60_000))).toBeLessThan(1000);
    await lease!.release();
    await q.close();
    // A task due in a minute of true time waits; on this machine's clock it would be due an hour ago.
    const outbox = await Outbox.open({ name: 'o', store: s, baseUrl: 'http://127.0.0.1:9' });
    await outbox.enqueue({ url: '/x', method: 'POST', body: 'b', notBefore: truth() + 60_000 });
    expect((await outbox.list()).map((t) => t.state)).toEqual(['scheduled']);
    await outbox.close();
    const given = { now: () => 5, setTimeout, clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    const own = await Queue.open<string>({ name: 'q', store: s, clock: given });
    expect((await own.take(1, { leaseMs: 60_000 }))?.expiresAt).toBe(60_005);
    await own.close();
  });
});
