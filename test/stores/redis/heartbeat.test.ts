import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { expect, it, vi } from 'vitest';
import { Outbox, Queue } from '../../../src/index.js';
import { inDoubt } from '../../../src/core/part-lease.js';
import { RedisStore } from '../../../src/redis.js';
import { RedisServer } from '../../support/redis-server.js';
import { describeRedis } from '../../support/redis-suite.js';
import { TcpProxy } from '../../support/tcp-proxy.mjs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A server up for less than ownerTtlMs (and the second its uptime may over-report) judges nobody gone. */
async function upFor(url: string, seconds: number): Promise<void> {
  const admin = new Redis(url);
  while (Number(/uptime_in_seconds:(\d+)/.exec(await admin.info('server'))?.[1]) < seconds) await sleep(100);
  admin.disconnect();
}
const values = (lease: { entries: readonly { value: string }[] } | undefined) => lease?.entries.map((e) => e.value);

describeRedis('RedisStore heartbeats', (server) => {
  it('.isGone() is final: a handle judged gone while alive goes on under a new owner, and its later leases stay its own', async () => {
    await upFor(server().url, 2);
    const warnings: string[] = [];
    const proxy = await TcpProxy.start({ port: server().port });
    const options = { prefix: 'gone:', ownerTtlMs: 300, onWarning: (m: string) => warnings.push(m) };
    const cut = new RedisStore({ url: proxy.url, ...options });
    const direct = new RedisStore({ url: server().url, ...options });
    try {
      const a = await Queue.open<string>({ name: 'q', store: cut, leaseMs: 600_000 });
      const b = await Queue.open<string>({ name: 'q', store: direct, leaseMs: 600_000 });
      await a.pushMany(['x1', 'x2', 'x3', 'x4', 'x5']);
      const before = await a.take(1);
      // A cut off for longer than ownerTtlMs: B rightly takes its lease back.
      proxy.hold();
      proxy.cut();
      await sleep(700);
      expect(values(await b.take(1))).toEqual(['x1']);
      proxy.release();
      await sleep(600);
      // Back, A is alive, but B knows its old name gone: under that name every lease A takes would be taken again.
      const taken: string[] = [];
      for (let round = 0; round < 2; round++) {
        const la = await a.take(1);
        const lb = await b.take(1);
        taken.push(...values(la)!, ...(values(lb) ?? []));
        await la!.ack();
      }
      expect(taken.sort()).toEqual(['x2', 'x3', 'x4', 'x5']);
      // The lease from before the cut is B's now: A's ack fails rather than remove what B holds.
      await expect(before!.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
      expect(warnings.some((m) => /new owner/.test(m))).toBe(true);
      await a.close();
      await b.close();
    } finally {
      await cut.close();
      await direct.close();
      await proxy.close();
    }
  });
}, { args: ['--appendonly', 'no'] });

describeRedis('RedisStore heartbeats across a restart', (server) => {
  it('a commit under an owner judged gone writes nothing: the handle takes under a new owner before its next beat', async () => {
    await upFor(server().url, 4);
    const admin = new Redis(server().url);
    const options = { url: server().url, prefix: 'judged:', ownerTtlMs: 3000, onWarning: () => undefined };
    const stores = [new RedisStore(options), new RedisStore(options)];
    try {
      const a = await Queue.open<string>({ name: 'q', store: stores[0]!, leaseMs: 600_000 });
      const b = await Queue.open<string>({ name: 'q', store: stores[1]!, leaseMs: 600_000 });
      await a.pushMany(['x1', 'x2', 'x3', 'x4']);
      const first = await a.take(1);
      // A's heartbeat gone while A lives (expired in a stall, evicted): B judges A gone and takes its lease back.
      const hearts = await admin.keys('judged:{q}:h:*');
      const meta = (await admin.getBuffer('judged:{q}:m'))!.toString('latin1');
      const owner = hearts.map((k) => k.split(':h:')[1]!).find((o) => meta.includes(o))!;
      await admin.del(`judged:{q}:h:${owner}`);
      expect(values(await b.take(1))).toEqual(['x1']);
      // A takes at once, long before its next beat would tell it: the lease must be its own, not taken again by B.
      const mine = await a.take(1);
      const theirs = await b.take(1);
      expect(values(mine)).toEqual(['x2']);
      expect(values(theirs)).toEqual(['x3']);
      await mine!.ack();
      await expect(first!.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
      await a.close();
      await b.close();
    } finally {
      admin.disconnect();
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a handle judged gone whose new heartbeat fails its first write is beaten all the same: its later leases are not in doubt', async () => {
    await upFor(server().url, 4);
    const admin = new Redis(server().url);
    const client = new Redis(server().url);
    const options = { prefix: 'renamed:', ownerTtlMs: 600, retryMs: 0, onWarning: () => undefined };
    const stores = [new RedisStore({ client, ...options }), new RedisStore({ url: server().url, ...options })];
    try {
      const a = await Queue.open<string>({ name: 'q', store: stores[0]!, leaseMs: 600_000 });
      const b = await Queue.open<string>({ name: 'q', store: stores[1]!, leaseMs: 600_000 });
      await a.pushMany(['x1', 'x2', 'x3', 'x4']);
      await a.take(1);
      const hearts = await admin.keys('renamed:{q}:h:*');
      const meta = (await admin.getBuffer('renamed:{q}:m'))!.toString('latin1');
      const owner = hearts.map((k) => k.split(':h:')[1]!).find((o) => meta.includes(o))!;
      await admin.del(`renamed:{q}:h:${owner}`);
      expect(values(await b.take(1))).toEqual(['x1']);
      // A's next commit finds it judged gone; the first write of its new heartbeat fails (a blip of the connection).
      const scripted = client as unknown as { sluiceBeat4: (key: string, ...rest: unknown[]) => Promise<number> };
      const beat = scripted.sluiceBeat4.bind(client);
      let blips = 0;
      scripted.sluiceBeat4 = (key, ...rest) => (!hearts.includes(key) && blips++ === 0 ? Promise.reject(new Error('connection blip')) : beat(key, ...rest));
      await expect(a.take(1)).rejects.toMatchObject({ code: 'ERR_STORAGE' });
      expect(blips).toBeGreaterThan(0);
      await sleep(700);
      const mine = await a.take(1);
      expect(values(mine)).toHaveLength(1);
      for (let look = 0; look < 4; look++) {
        expect(inDoubt(mine!)).toBe(false);
        await sleep(300);
      }
      await a.close();
      await b.close();
    } finally {
      admin.disconnect();
      await Promise.all(stores.map((s) => s.close()));
      client.disconnect();
    }
  });

  it('a handle opened just after a failover judges nobody gone for ownerTtlMs: the replica promoted lagged behind live beats', async () => {
    const primary = await RedisServer.start({ args: ['--appendonly', 'no', '--repl-diskless-sync-delay', '0'] });
    const link = await TcpProxy.start({ port: primary.port });
    const replica = await RedisServer.start({ args: ['--appendonly', 'no', '--replicaof', '127.0.0.1', String(link.port)] });
    const admin = new Redis(replica.url);
    const options = { prefix: 'promoted:', ownerTtlMs: 1000, retryMs: 1000, onWarning: () => undefined };
    const stores = [new RedisStore({ url: primary.url, ...options })];
    try {
      while (!/master_link_status:up/.test(await admin.info('replication'))) await sleep(50);
      await upFor(replica.url, 2);
      const a = await Queue.open<string>({ name: 'q', store: stores[0]!, leaseMs: 600_000 });
      await a.pushMany(['x1', 'x2']);
      expect(values(await a.take(2))).toEqual(['x1', 'x2']);
      await sleep(300);
      // The replica stops hearing A's beats for longer than ownerTtlMs; then it is promoted, A's heartbeat expired there.
      link.hold();
      link.cut();
      await sleep(1500);
      await primary.kill();
      await admin.replicaof('NO', 'ONE');
      stores.push(new RedisStore({ url: replica.url, ...options }));
      const b = await Queue.open<string>({ name: 'q', store: stores[1]! });
      // A is alive (its clients would reconnect to the new primary): its leased items are not B's to take.
      expect(values(await b.take(5))).toBeUndefined();
      await b.close();
    } finally {
      admin.disconnect();
      // Its held connections (the replica asking for its old primary) let go, to a server that is no more.
      link.release();
      await link.close();
      await Promise.allSettled(stores.map((s) => s.close()));
      await replica.stop();
      await primary.stop();
    }
  });

  it('a handle that just reconnected (perhaps to another server) judges nobody gone for ownerTtlMs', async () => {
    await upFor(server().url, 4);
    const admin = new Redis(server().url);
    const proxy = await TcpProxy.start({ port: server().port });
    const options = { prefix: 'reconnected:', ownerTtlMs: 3000, onWarning: () => undefined };
    // B through a proxy, so that only B's client reconnects.
    const stores = [new RedisStore({ url: server().url, ...options }), new RedisStore({ url: proxy.url, ...options })];
    try {
      const a = await Queue.open<string>({ name: 'q', store: stores[0]! });
      const b = await Queue.open<string>({ name: 'q', store: stores[1]!, leaseMs: 600_000 });
      await a.pushMany(['x1', 'x2']);
      await a.take(1);
      // As a failover to a server A's beats have not reached yet: its heartbeat missing there, B's client reconnected.
      await admin.del(...(await admin.keys('reconnected:{q}:h:*')));
      proxy.cut();
      await sleep(200);
      expect(values(await b.take(1))).toEqual(['x2']);
      await a.close();
      await b.close();
    } finally {
      admin.disconnect();
      await Promise.all(stores.map((s) => s.close()));
      await proxy.close();
    }
  });

  it('.isGone(): a server up for less than ownerTtlMs judges nobody gone; live owners write their heartbeats again', async () => {
    const options = { prefix: 'rs:', ownerTtlMs: 1000, retryMs: 20_000, onWarning: () => undefined };
    const proxy = await TcpProxy.start({ port: server().port });
    const sa = new RedisStore({ url: proxy.url, ...options });
    const sb = new RedisStore({ url: server().url, ...options });
    try {
      const a = await Queue.open<string>({ name: 'q', store: sa, leaseMs: 600_000 });
      const b = await Queue.open<string>({ name: 'q', store: sb, leaseMs: 600_000 });
      await a.pushMany(['x1', 'x2', 'x3', 'x4']);
      expect(values(await a.take(1))).toEqual(['x1']);
      // Down longer than ownerTtlMs: every heartbeat expired meanwhile, though both handles are alive; A is the last
      // to reconnect.
      proxy.hold();
      await server().kill();
      await sleep(1500);
      await server().restart();
      expect(values(await b.take(1))).toEqual(['x2']);
      proxy.release();
      await sleep(2500);
      const later = [values(await a.take(1)), values(await b.take(1))];
      expect(later).toEqual([['x3'], ['x4']]);
      await a.close();
      await b.close();
    } finally {
      proxy.release();
      await sa.close();
      await sb.close();
      await proxy.close();
    }
  });
});

describeRedis('RedisStore heartbeats at maxmemory', (server) => {
  it('a full Redis (noeviction) still refreshes heartbeats: live consumers keep their leases', async () => {
    await upFor(server().url, 2);
    const warnings: string[] = [];
    const options = { url: server().url, prefix: 'oom:', ownerTtlMs: 1000, onWarning: (m: string) => warnings.push(m) };
    const sa = new RedisStore(options);
    const sb = new RedisStore(options);
    try {
      const big = { leaseMs: 600_000, segmentBytes: 8 << 20, maxItemBytes: 1 << 20 };
      const a = await Queue.open<string>({ name: 'q', store: sa, ...big });
      const b = await Queue.open<string>({ name: 'q', store: sb, ...big });
      let refused: unknown;
      for (let i = 0; i < 200 && !refused; i++) await a.push(`${i}:${'x'.repeat(100_000)}`).catch((error: unknown) => (refused = error));
      expect(refused).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
      const lease = await a.take(1);
      await sleep(1500);
      expect(values(await b.take(1))?.map((v) => v.split(':')[0])).toEqual(['1']);
      await lease!.ack();
      expect(warnings.filter((m) => /heartbeat/.test(m))).toEqual([]);
      await a.close();
      await b.close();
    } finally {
      await sa.close();
      await sb.close();
    }
  });

  it('a heartbeat refresh that fails is told to onWarning', async () => {
    const warnings: string[] = [];
    const store = new RedisStore({ url: server().url, prefix: 'warn:', ownerTtlMs: 300, onWarning: (m: string) => warnings.push(m) });
    const admin = new Redis(server().url);
    try {
      const q = await Queue.open<string>({ name: 'q', store });
      // Refused by the server (an ACL changed under the store): the refresh fails, though the connection stays up.
      await admin.acl('SETUSER', 'default', '-evalsha', '-eval');
      await sleep(400);
      expect(warnings.some((m) => /cannot refresh heartbeat/.test(m))).toBe(true);
      await admin.acl('SETUSER', 'default', '+@all');
      await q.close();
    } finally {
      await admin.acl('SETUSER', 'default', '+@all').catch(() => undefined);
      await store.close();
      admin.disconnect();
    }
  });
}, { args: ['--appendonly', 'no', '--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'] });

describeRedis('RedisStore heartbeats through outages', (server) => {
  // A server that stops answering (SIGSTOP) fails no command in time: a client of your own has no command timeout, and
  // the store's own times out only after retryMs. Each outage must be told while it lasts, not once per store.
  for (const own of [false, true]) {
    it(`each outage is told while it lasts, and its end; nothing is lost when Redis answers again (${own ? 'a client of your own' : 'a client the store made'})`, async () => {
      await upFor(server().url, 2);
      const warnings: string[] = [];
      const prefix = `outage${own ? 'own' : ''}:`;
      const client = own ? new Redis(server().url) : undefined;
      const options = { prefix, ownerTtlMs: 600, retryMs: 20_000 };
      const sa = new RedisStore({ ...(client ? { client } : { url: server().url }), ...options, onWarning: (m: string) => warnings.push(m) });
      const sb = new RedisStore({ url: server().url, ...options, onWarning: () => undefined });
      try {
        const a = await Queue.open<string>({ name: 'q', store: sa, leaseMs: 600_000 });
        const b = await Queue.open<string>({ name: 'q', store: sb, leaseMs: 600_000 });
        await a.pushMany(['x1', 'x2', 'x3']);
        const acked: string[] = [];
        for (let outage = 0; outage < 2; outage++) {
          const lease = await a.take(1);
          warnings.length = 0;
          server().signal('SIGSTOP');
          let taking: Promise<unknown> | undefined;
          try {
            // B wants items meanwhile: once Redis answers, it may take A for gone (A's heartbeat expired meanwhile).
            taking = b.take(1);
            await sleep(1500);
            expect(warnings.filter((m) => /cannot refresh heartbeat/.test(m))).toHaveLength(1);
          } finally {
            server().signal('SIGCONT');
          }
          const theirs = (await taking) as Awaited<ReturnType<typeof b.take>>;
          await sleep(1000);
          expect(warnings.filter((m) => /cannot refresh heartbeat/.test(m))).toHaveLength(1);
          expect(warnings.some((m) => /refreshed again/.test(m))).toBe(true);
          const ack = await lease!.ack().then(() => 'acked', (error: { code: string }) => error.code);
          if (ack === 'acked') acked.push(...values(lease)!);
          else {
            // Taken back by B: A was told so, and its ack changed nothing.
            expect(ack).toBe('ERR_LEASE_EXPIRED');
            expect(warnings.some((m) => /another handle took its leases back/.test(m))).toBe(true);
          }
          if (theirs) {
            await theirs.ack();
            acked.push(...values(theirs)!);
          }
        }
        const rest = await b.take(10);
        if (rest) {
          await rest.ack();
          acked.push(...values(rest)!);
        }
        // Every item acked once: none lost, none removed twice.
        expect(acked.sort()).toEqual(['x1', 'x2', 'x3']);
        await a.close();
        await b.close();
      } finally {
        server().signal('SIGCONT');
        await sa.close();
        await sb.close();
        client?.disconnect();
      }
    }, 60_000);
  }
}, { args: ['--appendonly', 'no'] });

describeRedis('RedisStore heartbeats under an outbox cut off from Redis', (server) => {
  // The outbox takes a group's tasks ahead and sends them one by one. Cut off from Redis (its HTTP server still
  // answering) past ownerTtlMs, its heartbeat may have expired: another process may take it for gone, take its tasks
  // back and send them. It must not go on sending what it took ahead meanwhile, each a request the other makes too.
  it('sends nothing more of what it took ahead once its heartbeat lapsed', async () => {
    await upFor(server().url, 2);
    const requests: { key: string; by: string; at: number }[] = [];
    const http = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests.push({ key: String(req.headers['idempotency-key']), by: String(req.headers['x-by']), at: Date.now() });
        setTimeout(() => res.end('ok'), 40);
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const proxy = await TcpProxy.start({ port: server().port });
    const ownerTtlMs = 900;
    const options = { prefix: 'lapsed:', ownerTtlMs, onWarning: () => undefined };
    const cut = new RedisStore({ url: proxy.url, ...options });
    const direct = new RedisStore({ url: server().url, ...options });
    const by = (who: string): typeof fetch => (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-by': who } });
    const a = await Outbox.open({ name: 'o', store: cut, baseUrl, fetch: by('a') });
    const b = await Outbox.open({ name: 'o', store: direct, baseUrl, fetch: by('b') });
    try {
      await a.enqueueMany(Array.from({ length: 60 }, (_, i) => ({ url: '/hook', id: `t${i}`, group: 'g', body: { i } })));
      a.start();
      while (requests.length < 2) await sleep(5);
      proxy.hold();
      proxy.cut();
      const heldAt = Date.now();
      b.start();
      const deadline = Date.now() + 30_000;
      while ((await b.list()).length > 0 && Date.now() < deadline) await sleep(50);
      proxy.release();
      await sleep(500);
      expect(await b.list()).toEqual([]);
      // Past ownerTtlMs without a refresh, A's heartbeat may have expired and B may hold its tasks: A sent no more.
      const late = requests.filter((r) => r.by === 'a' && r.at > heldAt + ownerTtlMs);
      expect(late.map((r) => r.key)).toEqual([]);
      // Each task was sent, by one or by both.
      expect(new Set(requests.map((r) => r.key)).size).toBe(60);
    } finally {
      proxy.release();
      await a.close();
      await b.close();
      await cut.close();
      await direct.close();
      await proxy.close();
      http.close();
    }
  }, 60_000);
}, { args: ['--appendonly', 'no'] });

describeRedis('RedisStore heartbeats, and this machine\'s wall clock', (server) => {
  it('.isGone(): a wall clock stepped back an hour does not keep a dead owner\'s leases an hour: they come back after ownerTtlMs', async () => {
    await upFor(server().url, 2);
    const proxy = await TcpProxy.start({ port: server().port });
    const options = { prefix: 'step:', ownerTtlMs: 300, onWarning: () => undefined };
    const dying = new RedisStore({ url: proxy.url, ...options });
    const judge = new RedisStore({ url: server().url, ...options });
    try {
      const a = await Queue.open<string>({ name: 'q', store: dying, leaseMs: 600_000 });
      const b = await Queue.open<string>({ name: 'q', store: judge, leaseMs: 600_000 });
      await a.push('x1');
      expect(values(await a.take(1))).toEqual(['x1']);
      // b finds a alive (and keeps that a moment); then the clock steps back, and a's process is cut off for good.
      expect(await b.take(1)).toBeUndefined();
      const real = Date.now.bind(Date);
      vi.spyOn(Date, 'now').mockImplementation(() => real() - 3_600_000);
      proxy.hold();
      proxy.cut();
      await sleep(1_500);
      expect(values(await b.take(1))).toEqual(['x1']);
      await b.close();
    } finally {
      vi.restoreAllMocks();
      proxy.release();
      await dying.close();
      await judge.close();
      await proxy.close();
    }
  });
});

describeRedis(
  'RedisStore heartbeats while other apps run slow scripts (BUSY)',
  (server) => {
    it('a refresh refused BUSY is tried again before the next: a live handle keeps its lease through bursts of scripts', async () => {
      const url = server().url;
      const [a, b] = [new RedisStore({ url, ownerTtlMs: 1500, onWarning: () => undefined }), new RedisStore({ url, ownerTtlMs: 1500, onWarning: () => undefined })];
      const other = new Redis(url);
      try {
        const qa = await Queue.open<number>({ name: 'busy', store: a, leaseMs: 120_000 });
        const qb = await Queue.open<number>({ name: 'busy', store: b, leaseMs: 120_000 });
        await qa.pushMany([0, 1, 2, 3, 4]);
        // Up longer than ownerTtlMs, as a server that has run a while is: handles are judged from then on.
        await new Promise((resolve) => setTimeout(resolve, 1600));
        const lease = await qa.take(5);
        // Another app's scripts of 800 ms, 100 ms apart, for 4 s: past busy-reply-threshold every call meanwhile is BUSY.
        const slow = "local s=redis.call('TIME') local t0=s[1]*1000000+s[2] while true do local n=redis.call('TIME') if n[1]*1000000+n[2]-t0 > 800000 then break end end return 1";
        for (const start = Date.now(); Date.now() - start < 4000; ) {
          await other.eval(slow, 0);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(await qb.take(5)).toBeUndefined();
        await lease!.ack();
        await qa.close();
        await qb.close();
      } finally {
        other.disconnect();
        await a.close();
        await b.close();
      }
    }, 30_000);
  },
  { args: ['--busy-reply-threshold', '50'] },
);
