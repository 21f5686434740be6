import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultServer } from './fault-server.js';
import { pass, rig, until, type Rig } from './helpers.js';
import type { OutboxOptions } from '../../src/outbox/options.js';
import { Reachability } from '../../src/outbox/reachability.js';

let r: Rig;
let down: string;
beforeEach(async () => {
  r = await rig({ ordering: 'none', concurrency: 4 });
  down = `http://127.0.0.1:${await closedPort()}`;
});
afterEach(() => r.teardown());

/** `count` hosts that take the connection and never answer (their URLs), until `close`. */
async function silentHosts(count: number): Promise<{ urls: string[]; close(): Promise<void> }> {
  const held: net.Socket[] = [];
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = net.createServer((socket) => void held.push(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  return {
    urls: servers.map((server) => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`),
    async close() {
      for (const socket of held) socket.destroy();
      for (const server of servers) await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A port whose every connection is reset at once, as a blocked or dead host's is refused. Kept until the test ends: a
 * port closed and given up went to another server meanwhile (this test's silent host once, in a loaded run), and the
 * request there waited on the test's clock for ever.
 */
const refusing: net.Server[] = [];
afterEach(async () => {
  for (const server of refusing.splice(0)) await new Promise((resolve) => server.close(resolve));
});
async function closedPort(): Promise<number> {
  const server = net.createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  refusing.push(server);
  return (server.address() as net.AddressInfo).port;
}

/** A Reachability on a clock that reads `now`, its changes unheard. */
function reachability(now: () => number): Reachability {
  const clock = { now, setTimeout, clearTimeout };
  return new Reachability({ clock, policy: { initialDelayMs: 1000, maxDelayMs: 60_000, factor: 2 }, random: () => 0.5, connectivity: undefined, changed: () => undefined, wake: () => undefined, probe: () => undefined });
}

const toDown = () => r.calls.filter((url) => url.startsWith(down)).length;

// An app's outbox often posts to several origins (its API, an analytics host that an ad blocker refuses): one origin
// that fails must not hold back another that answers.
describe('a host that fails, beside one that answers', () => {
  it("does not hold back the other's tasks in the background run (each success there used to free the failing host's tasks, which failed again and made the outbox offline)", async () => {
    const tasks = Array.from({ length: 40 }, (_, i) => [{ url: `/a${i}` }, ...(i % 4 === 0 ? [{ url: `${down}/t${i}` }] : [])]).flat();
    await r.outbox.enqueueMany(tasks);
    r.outbox.start();
    // The fake clock stands still: no probe time comes, so only what the failing host does not hold back goes.
    for (let i = 0; i < 250 && (r.server.delivered.length < 40 || (await r.outbox.size()) > 10); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await r.outbox.stop();
    expect(r.server.delivered).toHaveLength(40);
    // Their acks committed too: what is left is the failing host's.
    expect(await r.outbox.size()).toBe(10);
  });

  it('offline because one host failed: a task to another host goes at once, not at the next probe time', async () => {
    await r.outbox.enqueue({ url: `${down}/t0` });
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    await r.outbox.enqueue({ url: '/a' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 1 });
    expect(r.outbox.online).toBe(true);
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/a']);
  });

  it('offline because one host failed: a host that takes the connection and never answers is the probe once, then waits its backoff, and the others go (once online, all at once)', async () => {
    // Connections taken and held, never answered: each request there ends only at the time limit.
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      await r.reopen({ ordering: 'none', concurrency: 4, timeoutMs: 1000 });
      await r.outbox.enqueue({ url: `${down}/t0` });
      await r.outbox.flush();
      expect(r.outbox.online).toBe(false);
      const quiet = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      await r.outbox.enqueueMany([...Array.from({ length: 5 }, (_, i) => ({ url: `${quiet}/s${i}` })), { url: '/a' }, { url: '/b' }]);
      r.outbox.start();
      // One time limit: the first probe to the silent host gives up; the next probe is another host's.
      await until(() => held.length === 1);
      await pass(r.clock, 1000, 4);
      // No second time limit passes: were the silent host the probe again, nothing else would go.
      await until(() => r.server.delivered.length === 2);
      expect(r.outbox.online).toBe(true);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('offline because one host failed, two silent hosts each due again as the other times out: a host that has not failed is the probe before either goes again', async () => {
    const held: net.Socket[] = [];
    const silents = [net.createServer((socket) => void held.push(socket)), net.createServer((socket) => void held.push(socket))];
    for (const silent of silents) await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      // Their backoff (at most 200 ms) ends before the other's time limit (1 s).
      await r.reopen({ ordering: 'none', concurrency: 2, timeoutMs: 1000, retry: { initialDelayMs: 100, maxDelayMs: 200 } });
      await r.outbox.enqueue({ url: `${down}/t0` });
      await r.outbox.flush();
      expect(r.outbox.online).toBe(false);
      const [one, two] = silents.map((silent) => `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`);
      await r.outbox.enqueueMany([...[0, 1, 2].flatMap((i) => [{ url: `${one}/s${i}` }, { url: `${two}/s${i}` }]), { url: '/a' }, { url: '/b' }]);
      r.outbox.start();
      // Each silent host's first probe times out; the next probe is the host that answers, not the first silent again.
      for (let i = 1; i <= 2; i++) {
        await until(() => held.length >= i);
        await pass(r.clock, 1000, 4);
      }
      await until(() => r.server.delivered.length > 0 && r.outbox.online);
      // The probes, in order, up to the first answer (then online, every host goes).
      const probes = r.calls.slice(0, r.calls.findIndex((url) => url.endsWith('/a')) + 1);
      expect(probes).toEqual([`${down}/t0`, `${one}/s0`, `${two}/s0`, `${r.server.url}/a`]);
      expect(r.outbox.online).toBe(true);
    } finally {
      for (const socket of held) socket.destroy();
      for (const silent of silents) await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('hosts that are gone, each refused once just after another answered, keep the outbox online: refused at once, none could answer while they were out', async () => {
    await r.reopen({ ordering: 'none', concurrency: 1 });
    const gone = await Promise.all(Array.from({ length: 6 }, async () => `http://127.0.0.1:${await closedPort()}`));
    let offline = 0;
    r.outbox.addEventListener('offline', () => void offline++);
    await r.outbox.enqueueMany(gone.flatMap((url, i) => [{ url: `/a${i}` }, { url: `${url}/t${i}` }]));
    expect(await r.outbox.flush()).toMatchObject({ sent: 6 });
    expect(offline).toBe(0);
    expect(r.outbox.online).toBe(true);
  });

  it('a refused host is still the network once no answer came for a second, or once four hosts are refused in a row, or one twice, or when the answer was its own', () => {
    let now = 0;
    const reach = reachability(() => now);
    reach.saw(true, reach.seen, 'https://a.example');
    now += 1001;
    reach.saw(false, reach.seen, 'https://b.example');
    expect(reach.online).toBe(false);
    reach.saw(true, reach.seen, 'https://a.example');
    for (const host of ['c', 'd', 'e']) reach.saw(false, reach.seen, `https://${host}.example`);
    expect(reach.online).toBe(true);
    reach.saw(false, reach.seen, 'https://f.example');
    expect(reach.online).toBe(false);
    reach.saw(true, reach.seen, 'https://a.example');
    reach.saw(false, reach.seen, 'https://g.example');
    reach.saw(false, reach.seen, 'https://g.example');
    expect(reach.online).toBe(false);
    // Requests out together to a host refused just after another answered count among those put on hosts: the
    // network gone, a whole round of them failed before the outbox went offline.
    reach.saw(true, reach.seen, 'https://a.example');
    const since = reach.seen;
    for (let i = 0; i < 3; i++) reach.saw(false, since, 'https://i.example');
    expect(reach.online).toBe(true);
    reach.saw(false, since, 'https://i.example');
    expect(reach.online).toBe(false);
    // The only host there is, refused just after it answered: the network, as before (an app with one API).
    reach.saw(true, reach.seen, 'https://h.example');
    reach.saw(false, reach.seen, 'https://h.example');
    expect(reach.online).toBe(false);
  });

  it('a host that failed, and fails again after another answered, is down on its own: the outbox stays online', async () => {
    await r.outbox.enqueue({ url: `${down}/t0` });
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    await r.outbox.enqueue({ url: '/a' });
    await r.outbox.flush();
    expect(r.outbox.online).toBe(true);
    // Its next try, refused at once (no other answer can come while it is out), is its host's again.
    r.clock.advance(60_000);
    await r.outbox.flush();
    expect(toDown()).toBe(2);
    expect(r.outbox.online).toBe(true);
    await r.outbox.enqueue({ url: '/b' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
  });

  // With batch, a task that travels alone (one that cannot join a batch) answered for no host: its host was never held.
  const toDownHost = (): string => down;
  const rows: [string, () => Partial<OutboxOptions>, string, () => string][] = [
    ['', () => ({}), 'POST', toDownHost],
    [' (with batch, a task that travels alone)', () => ({ batch: { url: '/batch' } }), 'PUT', toDownHost],
  ];
  it.each(rows)("online, a host that fails again with no answer from it since is held its backoff, all its tasks%s: not each on its own backoff (a storm at a host that is down)", async (_, extra, method, stored) => {
    await r.reopen({ ordering: 'none', concurrency: 4, retry: { initialDelayMs: 10, maxDelayMs: 50 }, ...extra() });
    await r.outbox.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ url: `${stored()}/t${i}`, method })));
    // Two seconds in steps of 100 ms, the other host answering all along.
    for (let i = 0; i < 20; i++) {
      await r.outbox.enqueue({ url: `/a${i}`, method });
      r.clock.advance(100);
      await r.outbox.flush();
    }
    expect(r.server.delivered).toHaveLength(20);
    expect(r.outbox.online).toBe(true);
    // Each of the ten due at every step, the host held not: some 200 tries.
    expect(toDown()).toBeLessThanOrEqual(20);
  });

  it('online, a host that takes the connection and never answers, timed out twice running, is held: the others go meanwhile', async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      await r.reopen({ ordering: 'none', concurrency: 1, timeoutMs: 1000, retry: { initialDelayMs: 100, maxDelayMs: 200 } });
      const quiet = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      await r.outbox.enqueueMany([{ url: '/first' }, ...Array.from({ length: 3 }, (_, i) => ({ url: `${quiet}/s${i}` })), ...Array.from({ length: 5 }, (_, i) => ({ url: `/a${i}` }))]);
      r.outbox.start();
      const toQuiet = () => r.calls.filter((url) => url.startsWith(quiet)).length;
      // Two time limits, the silent host's first two tasks: then it is held, and the one slot goes to the others.
      for (let i = 0; i < 2; i++) {
        await until(() => toQuiet() === i + 1);
        await pass(r.clock, 1000, 4);
      }
      await until(() => r.server.delivered.length === 6);
      expect(toQuiet()).toBe(2);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('hosts that failed and never answered since get half the slots at most: their retries do not take every slot from the hosts that answer', async () => {
    const silent = await silentHosts(4);
    try {
      await r.reopen({ ordering: 'none', concurrency: 4, timeoutMs: 1000, retry: { initialDelayMs: 100, maxDelayMs: 200 } });
      const quiet = silent.urls;
      const toQuiet = () => r.calls.filter((url) => quiet.some((q) => url.startsWith(q))).length;
      // Four hosts that take the connection and say nothing, a task each: every slot theirs, until their time limit.
      await r.outbox.enqueueMany(quiet.map((q, i) => ({ url: `${q}/s${i}` })));
      r.outbox.start();
      await until(() => toQuiet() === 4);
      await pass(r.clock, 1000, 4);
      // Their retries due, and twenty tasks to the host that answers behind them in the queue.
      await pass(r.clock, 300, 3);
      await r.outbox.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ url: `/a${i}` })));
      // Two slots at most go to the failing hosts' retries: the others deliver meanwhile, with no time limit passing.
      await until(() => r.server.delivered.length === 20, 3000);
      expect(r.server.delivered).toHaveLength(20);
      expect(toQuiet()).toBeLessThanOrEqual(4 + 2);
    } finally {
      await silent.close();
    }
  });

  it('tasks taken ahead to hosts that then failed keep to that share too: given back, not started in every slot that frees', async () => {
    const silent = await silentHosts(4);
    try {
      await r.reopen({ ordering: 'none', concurrency: 4, timeoutMs: 1000, retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
      const quiet = silent.urls;
      const toQuiet = () => r.calls.filter((url) => quiet.some((q) => url.startsWith(q))).length;
      // Three tasks at each of four silent hosts: the first of each goes, the rest are taken ahead behind them.
      await r.outbox.enqueueMany([0, 1, 2].flatMap((n) => quiet.map((q, i) => ({ url: `${q}/s${i}-${n}` }))));
      await r.outbox.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ url: `/a${i}` })));
      r.outbox.start();
      await until(() => toQuiet() === 4);
      // Their time limit: the four hosts are failing now, and their tasks taken ahead would take every slot freed.
      await pass(r.clock, 1000, 4);
      await until(() => r.server.delivered.length === 10, 3000);
      expect(r.server.delivered).toHaveLength(10);
      expect(toQuiet()).toBeLessThanOrEqual(4 + 2);
    } finally {
      await silent.close();
    }
  });

  it('offline by the only host there is: probes still wait their backoff, one at a time', async () => {
    await r.server.down();
    await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
    await r.outbox.flush();
    const calls = r.calls.length;
    await r.outbox.enqueue({ url: '/c' });
    await r.outbox.flush();
    expect(r.calls.length).toBe(calls);
  });

  it("a success at one origin ends the network waits of that origin only: the other's tasks wait out their backoff", async () => {
    await r.outbox.enqueueMany([{ url: `${down}/t0` }, { url: `${down}/t1` }]);
    await r.outbox.flush();
    const refused = toDown();
    expect(refused).toBeGreaterThan(0);
    await r.outbox.enqueue({ url: '/a' });
    r.clock.advance(60_000);
    await r.outbox.flush();
    await r.outbox.enqueue({ url: '/b' });
    await r.outbox.flush();
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/a', '/b']);
    // The probe (at most one per flush), never a try of every task of the failing origin on each success.
    expect(toDown() - refused).toBeLessThanOrEqual(2);
  });
});

// The requests out when the network goes all fail together: as many as `concurrency`. Each counted as a failure of its
// own pushed the next probe out by `factor` apiece (128 s with 8 out, `maxDelayMs` with 10), while the retry events
// and `list()` said the tasks were due within a second.
describe('an outage that fails every request out at once', () => {
  const eight = Array.from({ length: 8 }, (_, i) => ({ url: `/t${i}` }));

  /** Eight requests out at once (8 slots), all failed by the network: the outbox is offline. */
  async function allFailed(extra: Partial<OutboxOptions> = {}): Promise<void> {
    await r.reopen({ ordering: 'none', concurrency: 8, ...extra });
    await r.server.down();
    await r.outbox.enqueueMany(eight);
    await r.outbox.flush();
    expect(r.calls).toHaveLength(8);
    expect(r.outbox.online).toBe(false);
  }

  it('counts as one failure: the probe goes one backoff later, not factor^7 backoffs later', async () => {
    await allFailed();
    await r.server.up();
    r.clock.advance(2000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 8, remaining: 0 });
    expect(r.outbox.online).toBe(true);
  });

  /** The requests made by the time `ms` more have passed, a flush after each step. */
  async function callsAfter(...steps: number[]): Promise<number[]> {
    const counts = [];
    for (const ms of steps) {
      r.clock.advance(ms);
      await r.outbox.flush();
      counts.push(r.calls.length);
    }
    return counts;
  }

  it('each failed probe afterwards widens the gap by factor', async () => {
    await allFailed();
    // The first probe at 1 s failed: the next waits 2 s.
    expect(await callsAfter(1000, 1000, 1000)).toEqual([9, 9, 10]);
  });

  it('spaces the probes by a draw: 1.4 s then 2.8 s with a draw of 0.9 (not 1 s then 2 s, the same for every client)', async () => {
    await allFailed({ random: () => 0.9 });
    expect(await callsAfter(1300, 100, 2700, 100)).toEqual([8, 9, 9, 10]);
  });

  it("counts as one failure per host: with two hosts' requests out as the network went, each host's probe goes one backoff later", async () => {
    const other = await FaultServer.start();
    try {
      await r.reopen({ ordering: 'none', concurrency: 8 });
      await Promise.all([r.server.down(), other.down()]);
      await r.outbox.enqueueMany(Array.from({ length: 8 }, (_, i) => ({ url: `${i % 2 ? other.url : r.server.url}/t${i}` })));
      await r.outbox.flush();
      expect(r.calls).toHaveLength(8);
      expect(r.outbox.online).toBe(false);
      await Promise.all([r.server.up(), other.up()]);
      r.clock.advance(2000);
      expect(await r.outbox.flush()).toMatchObject({ sent: 8, remaining: 0 });
      expect(other.delivered).toHaveLength(4);
    } finally {
      await other.close();
    }
  });

  it('counts as one failure with batches, which answer for no one host', async () => {
    await allFailed({ batch: { url: '/batch', maxItems: 1 } });
    await r.server.up();
    r.clock.advance(2000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 8, remaining: 0 });
  });
});

describe('many failing hosts', () => {
  it('remembers the latest 1 000: the host whose last failure is oldest is forgotten, and probed as any other', () => {
    let now = 0;
    const reach = reachability(() => now);
    const host = (i: number) => `https://h${i}.example`;
    for (let i = 0; i < 1001; i++) reach.saw(false, reach.seen, host(i));
    // A host failing again is the latest: h0 was the oldest, and went for h1000.
    expect(reach.probeDue(host(0))).toBe(true);
    expect(reach.probeDue(host(1))).toBe(false);
    reach.saw(false, reach.seen, host(1));
    reach.saw(false, reach.seen, host(1001));
    expect(reach.probeDue(host(1))).toBe(false);
    expect(reach.probeDue(host(2))).toBe(true);
    // Those remembered still wait their backoff.
    expect(reach.probeIn()).toBeGreaterThan(0);
    now += 1000;
    expect(reach.probeDue(host(1000))).toBe(true);
  });
});
