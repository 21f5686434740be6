import os from 'node:os';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Outbox, Queue } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { ServerClock } from '../../../src/stores/redis/server-clock.js';
import { describeRedis } from '../../support/redis-suite.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const HOUR = 3_600_000;

/** From now on, this machine's wall clock reads `offsetMs` off (an NTP step, a laptop waking, a skewed machine). */
function stepWallClock(offsetMs: number): void {
  const now = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => now() + offsetMs);
}

/**
 * Steps this machine's wall clock an hour ahead (left so), then checks that a lease taken on `s` ends a minute from now
 * on the server's time, not an hour and a minute; the item is released and the queue closed after.
 */
async function expectLeaseOnServerTime(s: RedisStore): Promise<void> {
  stepWallClock(HOUR);
  const q = await Queue.open<string>({ name: 'q', store: s });
  await q.push('x');
  const lease = await q.take(1, { leaseMs: 60_000 });
  expect(Math.abs(lease!.expiresAt - (Date.now() - HOUR + 60_000))).toBeLessThan(1000);
  await lease!.release();
  await q.close();
}

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A server whose clock reads `lead` ms ahead of this machine's true time, answering TIME after `roundTrip` ms of this
 * process's monotonic clock (made to pass by hand: `mono`), or refusing it.
 */
function fakeServer(o: { lead: number; roundTrip?: number; refuse?: string; port?: number }) {
  let mono = 1_000_000;
  const trueStart = Date.now();
  // This machine's wall clock goes on with the monotonic one, but where a test steps either alone.
  let wall = trueStart;
  // The machine's uptime, which goes on while it sleeps, as its wall clock does and its monotonic clock does not.
  let up = 50_000_000;
  vi.spyOn(performance, 'now').mockImplementation(() => mono);
  vi.spyOn(Date, 'now').mockImplementation(() => wall);
  vi.spyOn(os, 'uptime').mockImplementation(() => up / 1000);
  const pass = (ms: number) => {
    mono += ms;
    wall += ms;
    up += ms;
  };
  const server = {
    isCluster: false,
    options: { host: '127.0.0.1', port: o.port ?? 6379 },
    calls: 0,
    lead: o.lead,
    roundTrip: o.roundTrip ?? 2,
    async time(): Promise<[string, string]> {
      server.calls++;
      if (o.refuse) throw new Error(o.refuse);
      // The server reads its clock halfway through the round trip.
      pass(server.roundTrip / 2);
      const at = trueStart + (mono - 1_000_000) + server.lead;
      pass(server.roundTrip / 2);
      return [String(Math.floor(at / 1000)), String(Math.round((at % 1000) * 1000))];
    },
  };
  const truth = () => trueStart + (mono - 1_000_000);
  const doze = (ms: number) => {
    wall += ms;
    up += ms;
    server.lead += ms;
  };
  return { server, truth, pass, back: (ms: number) => void (mono -= ms), step: (ms: number) => void (wall += ms), doze };
}

describe('ServerClock', () => {
  it("reads the server's time at the first queue's open, and carries it forward on the monotonic clock: a step of the wall clock changes nothing", async () => {
    const { server, truth, pass, step } = fakeServer({ lead: 5_000 });
    const clock = new ServerClock(() => server as unknown as Redis, 1000, () => undefined);
    // Before any reading: the wall clock.
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
    await clock.ready();
    expect(Math.abs(clock.now() - (truth() + 5_000))).toBeLessThan(5);
    step(3_600_000);
    pass(10_000);
    expect(Math.abs(clock.now() - (truth() + 5_000))).toBeLessThan(5);
  });

  it('a machine that slept (its monotonic clock stood still, its wall clock and the server\'s went on) reads the server again at once', async () => {
    const { server, truth, pass, doze } = fakeServer({ lead: 5_000 });
    const clock = new ServerClock(() => server as unknown as Redis, 1000, () => undefined);
    await clock.ready();
    pass(1_000);
    // Asleep 20 s: the server's time, this machine's wall clock and its uptime went on, its monotonic clock did not.
    doze(20_000);
    const calls = server.calls;
    // Right at once (the first lease after waking is taken on it), and read again from the server.
    expect(Math.abs(clock.now() - (truth() + 25_000))).toBeLessThan(5);
    expect(server.calls).toBe(calls + 1);
    await clock.read();
    expect(Math.abs(clock.now() - (truth() + 25_000))).toBeLessThan(5);
  });

  it('reads it again every 30 s, in the background; a slower reading replaces a faster one only once that is 5 minutes old', async () => {
    const { server, truth, pass } = fakeServer({ lead: 0, roundTrip: 10 });
    const clock = new ServerClock(() => server as unknown as Redis, 1000, () => undefined);
    await clock.ready();
    pass(20_000);
    clock.now();
    expect(server.calls).toBe(1);
    pass(11_000);
    clock.now();
    await clock.read();
    expect(server.calls).toBe(2);
    // A reading over a slow round trip, whose server clock had moved (a step on the server, say): not taken yet.
    server.roundTrip = 400;
    server.lead = 150;
    pass(31_000);
    clock.now();
    await clock.read();
    expect(server.calls).toBe(3);
    expect(Math.abs(clock.now() - truth())).toBeLessThan(5);
    pass(300_000);
    clock.now();
    await clock.read();
    expect(Math.abs(clock.now() - (truth() + 150))).toBeLessThan(5);
  });

  // Before, the first reading was kept for 30 s whatever its round trip: a TIME held 6 s on its way (a stalled link, a
  // busy server) put this handle's clock 3 s ahead of the server's, so it took items whose leases had 3 s to run.
  it('a first reading answered late (its request held on the way) is read again at once: the clock is not off by half its round trip', async () => {
    const { server, truth, pass } = fakeServer({ lead: 0 });
    const time = server.time.bind(server);
    let held = true;
    server.time = async () => {
      // The request waits 6 s on its way; the server reads its clock as it arrives and answers at once.
      if (held) pass(6_000);
      held = false;
      return time();
    };
    const warnings: string[] = [];
    const clock = new ServerClock(() => server as unknown as Redis, 10_000, (m) => warnings.push(m));
    await clock.ready();
    expect(Math.abs(clock.now() - truth())).toBeLessThan(5);
    expect(warnings).toEqual([]);
  });

  it('refused TIME (a managed service may deny it): says so once, and goes on with the wall clock', async () => {
    const { server } = fakeServer({ lead: 5_000, refuse: "ERR unknown command 'TIME'" });
    const warnings: string[] = [];
    const clock = new ServerClock(() => server as unknown as Redis, 1000, (m) => warnings.push(m));
    await clock.ready();
    expect(warnings).toEqual([expect.stringMatching(/refuses TIME .*each machine's own clock/)]);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
  });

  it("says once when this machine's clock is a second or more from the server's", async () => {
    const { server, pass } = fakeServer({ lead: -60_000 });
    const warnings: string[] = [];
    const clock = new ServerClock(() => server as unknown as Redis, 1000, (m) => warnings.push(m));
    await clock.ready();
    pass(31_000);
    clock.now();
    await clock.read();
    expect(warnings).toEqual([expect.stringMatching(/this machine's clock is (59\d{3}|60\d{3}) ms ahead of the Redis server's/)]);
  });

  it("reads a Cluster's first primary by address, the one every client reads", async () => {
    const { server } = fakeServer({ lead: 0, port: 7001 });
    const other = { ...server, options: { host: '127.0.0.1', port: 7002 }, time: vi.fn(server.time) };
    const cluster = { isCluster: true, nodes: () => [other, server] };
    await new ServerClock(() => cluster as never, 1000, () => undefined).ready();
    expect([server.calls, other.time.mock.calls.length]).toEqual([1, 0]);
  });

  it("whose monotonic clock goes back (fake timers installed in a test) keeps the server's time, not the process's uptime less", async () => {
    const { server, truth, back } = fakeServer({ lead: 0 });
    const clock = new ServerClock(() => server as unknown as Redis, 1000, () => undefined);
    await clock.ready();
    back(900_000);
    expect(Math.abs(clock.now() - truth() - 900_000)).toBeLessThan(50);
  });
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

  // Before, a TIME that failed at open (an outage of a few seconds, within retryMs) left the queue on this machine's
  // clock, unsaid, until the next reading 30 s later: a machine an hour ahead took the items leased elsewhere at once.
  it("a TIME that fails at open is asked again: the queue never opens on this machine's clock", async () => {
    const { Redis } = await import('ioredis');
    const client = new Redis(server().url);
    const time = client.time.bind(client);
    let fails = 2;
    client.time = ((...args: []) => (fails-- > 0 ? Promise.reject(new Error('Connection is closed.')) : time(...args))) as typeof client.time;
    try {
      const s = new RedisStore({ client, prefix: 'blip:', onWarning: () => undefined });
      stores.push(s);
      await expectLeaseOnServerTime(s);
    } finally {
      client.disconnect();
    }
  });

  it('a TIME never answered at open fails the open with ERR_STORAGE after retryMs, and leaves no heartbeat', async () => {
    const { Redis } = await import('ioredis');
    const client = new Redis(server().url);
    const admin = new Redis(server().url);
    client.time = (() => Promise.reject(new Error('Connection is closed.'))) as typeof client.time;
    try {
      const s = new RedisStore({ client, prefix: 'mute:', retryMs: 1000, onWarning: () => undefined });
      stores.push(s);
      await expect(Queue.open<string>({ name: 'q', store: s })).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/TIME/) });
      expect(await admin.keys('mute:*:h:*')).toEqual([]);
    } finally {
      client.disconnect();
      admin.disconnect();
    }
  });

  it('is the default clock of the queues and outboxes opened on the store; a clock given still wins', async () => {
    const s = store('default:');
    await expectLeaseOnServerTime(s);
    // A task due in a minute of true time waits; on this machine's clock (an hour ahead) it would be due an hour ago.
    const outbox = await Outbox.open({ name: 'o', store: s, baseUrl: 'http://127.0.0.1:59' });
    await outbox.enqueue({ url: '/x', method: 'POST', body: 'b', notBefore: Date.now() - HOUR + 60_000 });
    expect((await outbox.list()).map((t) => t.state)).toEqual(['scheduled']);
    await outbox.close();
    const given = { now: () => 5, setTimeout, clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    const own = await Queue.open<string>({ name: 'q', store: s, clock: given });
    expect((await own.take(1, { leaseMs: 60_000 }))?.expiresAt).toBe(60_005);
    await own.close();
  });
});
