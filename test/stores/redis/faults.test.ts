import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Queue, type SluiceError } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { RedisServer } from '../../support/redis-server.js';
import { describeRedis } from '../../support/redis-suite.js';
import { TcpProxy } from '../../support/tcp-proxy.mjs';

/** SLUICE_REDIS_FAULT_KILLS=50 for a long run; a few kills in `npm test`. */
const KILLS = Number(process.env.SLUICE_REDIS_FAULT_KILLS ?? 3);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * A chunk holding a commit's reply: a bulk string holding a token (16 hex digits of owner, '.', a counter). Other
 * replies may share the chunk (the store reads the server's settings again after each reconnection); dropping them
 * with it is the same fault, a connection lost right after the server acted.
 */
/** A commit's reply: its new token, `<generation>/<owner>.<count>`. */
const COMMIT_REPLY = /(?:^|\r\n)\$\d+\r\n(?:[0-9a-f]{16}\/)?[0-9a-f]{16}\.[0-9a-z]+\r\n/;

describeRedis('RedisStore under faults', (server) => {
  let n = 0;

  it('a connection dropped after the commit ran: the resent commit is recognised, applied once', async () => {
    const prefix = `drop${n++}:`;
    const proxy = await TcpProxy.start({ port: server().port });
    const flaky = new RedisStore({ url: proxy.url, prefix, onWarning: () => undefined });
    const direct = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    try {
      const q = await Queue.open<number>({ name: 'q', store: flaky });
      const other = await Queue.open<number>({ name: 'q', store: direct });
      await q.push(1);

      // 1. The reply is lost, the connection comes back, nothing else happened meanwhile.
      let dropped = proxy.dropReply((chunk) => COMMIT_REPLY.test(chunk.toString('latin1')));
      await q.push(2);
      await dropped;

      // 2. The worst moment: the reply is lost, and another process commits before the connection comes back, so
      //    the stored token has moved on. Comparing tokens alone would answer "stale" and the push would go again.
      dropped = proxy.dropReply((chunk) => COMMIT_REPLY.test(chunk.toString('latin1')));
      proxy.hold();
      const pushing = q.pushMany([3, 4]);
      await dropped;
      await other.push(100);
      proxy.release();
      await pushing;

      // 3. The same for a take and an ack: a lease is handed out once, an ack counts once.
      dropped = proxy.dropReply((chunk) => COMMIT_REPLY.test(chunk.toString('latin1')));
      const lease = await q.take(2);
      await dropped;
      expect(lease!.entries.map((e) => [e.value, e.attempts])).toEqual([[1, 1], [2, 1]]);
      dropped = proxy.dropReply((chunk) => COMMIT_REPLY.test(chunk.toString('latin1')));
      await lease!.ack();
      await dropped;

      await q.push(5);
      expect((await other.list()).map((e) => [e.value, e.state, e.attempts])).toEqual([
        [3, 'ready', 0],
        [4, 'ready', 0],
        [100, 'ready', 0],
        [5, 'ready', 0],
      ]);
      await q.close();
      await other.close();
    } finally {
      await flaky.close();
      await direct.close();
      await proxy.close();
    }
  });

  it('a commit resent after its handle\'s last-commit key is gone (expired, evicted) is still applied once', async () => {
    const prefix = `replay${n++}:`;
    const proxy = await TcpProxy.start({ port: server().port });
    const flaky = new RedisStore({ url: proxy.url, prefix, retryMs: 60_000, onWarning: () => undefined });
    const admin = new Redis(server().url);
    try {
      // Strict (the server fsyncs every write: no WAIT): the push waits for the store's read of the server's settings,
      // whose replies would otherwise share a chunk with the commit's reply that the proxy is to drop.
      const q = await Queue.open<string>({ name: 'q', store: flaky, durability: 'strict' });
      await q.push('one');
      const dropped = proxy.dropReply((chunk) => COMMIT_REPLY.test(chunk.toString('latin1')));
      proxy.hold();
      const pushing = q.push('two');
      await dropped;
      const guards = await admin.keys(`${prefix}{q}:c:*`);
      expect(guards).toHaveLength(1);
      await admin.del(...guards);
      proxy.release();
      await pushing;
      expect((await q.list()).map((e) => e.value)).toEqual(['one', 'two']);
      await q.close();
    } finally {
      admin.disconnect();
      await flaky.close();
      await proxy.close();
    }
  });

  it('a handle\'s last-commit key outlives twice retryMs, when that is longer than 10 minutes', async () => {
    const prefix = `guard${n++}:`;
    const retryMs = 3_600_000;
    const store = new RedisStore({ url: server().url, prefix, retryMs, onWarning: () => undefined });
    const admin = new Redis(server().url);
    try {
      const q = await Queue.open<string>({ name: 'q', store });
      await q.push('one');
      const [guard] = await admin.keys(`${prefix}{q}:c:*`);
      expect(await admin.pttl(guard!)).toBeGreaterThan(2 * retryMs - 60_000);
      await q.close();
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('a failover behind one endpoint (the old primary demoted to a replica): the store reconnects to the new primary, rather than meet READONLY for good', async () => {
    const standby = await RedisServer.start({ args: ['--appendonly', 'no'] });
    const target = { port: server().port };
    const endpoint = await TcpProxy.start(target);
    const primary = new Redis(server().url);
    const replica = new Redis(standby.url);
    const store = new RedisStore({ url: endpoint.url, prefix: `demoted${n++}:`, retryMs: 5_000, onWarning: () => undefined });
    try {
      await replica.call('REPLICAOF', '127.0.0.1', String(server().port));
      const q = await Queue.open<number>({ name: 'q', store });
      await q.pushMany([1, 2, 3]);
      while ((await replica.dbsize()) === 0 || !/master_link_status:up/.test(await replica.info('replication'))) await sleep(50);
      await primary.wait(1, 2_000);
      // The failover: the standby promoted, the old primary made its replica, the endpoint leading to the new one.
      await replica.call('REPLICAOF', 'NO', 'ONE');
      await primary.call('REPLICAOF', '127.0.0.1', String(standby.port));
      target.port = standby.port;
      await q.push(4);
      const lease = (await q.take(10))!;
      expect(lease.entries.map((e) => e.value)).toEqual([1, 2, 3, 4]);
      await lease.ack();
      expect(await q.size()).toBe(0);
      await q.close();
    } finally {
      await primary.call('REPLICAOF', 'NO', 'ONE');
      primary.disconnect();
      replica.disconnect();
      await store.close();
      await endpoint.close();
      await standby.stop();
    }
  });

  it('redis-server killed (SIGKILL) and restarted under push/take/ack: no resolved push lost, no acked item back', async () => {
    const prefix = `kill${n++}:`;
    const options = { prefix, retryMs: 30_000, ownerTtlMs: 60_000, onWarning: () => undefined };
    const producers = new RedisStore({ url: server().url, ...options });
    const consumers = new RedisStore({ url: server().url, ...options });
    const pushed: number[] = [];
    const acked = new Map<number, number>();
    const failures: SluiceError[] = [];
    let stop = false;
    let next = 0;
    const produce = async () => {
      const q = await Queue.open<number>({ name: 'q', store: producers, segmentItems: 50 });
      while (!stop) {
        const values = Array.from({ length: 1 + (next % 7) }, () => next++);
        try {
          if (values.length === 1) await q.push(values[0]!);
          else await q.pushMany(values);
          pushed.push(...values);
        } catch (error) {
          failures.push(error as SluiceError);
        }
      }
      await q.close();
    };
    const consume = async (until: () => boolean) => {
      const q = await Queue.open<number>({ name: 'q', store: consumers, segmentItems: 50, leaseMs: 120_000 });
      while (!until()) {
        try {
          const lease = await q.take(10);
          if (!lease) {
            await sleep(5);
            continue;
          }
          await lease.ack();
          for (const e of lease.entries) acked.set(e.value, (acked.get(e.value) ?? 0) + 1);
        } catch (error) {
          failures.push(error as SluiceError);
        }
      }
      await q.close();
    };
    const work = [produce(), produce(), consume(() => stop), consume(() => stop)];
    let kills = 0;
    for (; kills < KILLS; kills++) {
      await sleep(250 + Math.random() * 250);
      await server().kill();
      await sleep(Math.random() * 200);
      await server().restart();
    }
    await sleep(300);
    stop = true;
    await Promise.all(work);
    // What is left (pushed while the consumers were stopping) drains now.
    await consume(() => pushed.every((v) => acked.has(v)));
    const check = await Queue.open<number>({ name: 'q', store: consumers });
    const left = (await check.list()).map((e) => e.value);
    await check.close();
    await producers.close();
    await consumers.close();

    if (process.env.SLUICE_REDIS_FAULT_KILLS) {
      console.log(`${kills} kills: ${pushed.length} pushes resolved, ${acked.size} items acked once, ${failures.length} calls failed, ${left.length} left`);
    }
    expect(kills).toBe(KILLS);
    expect(pushed.length).toBeGreaterThan(100);
    // No call failed for good: every outage was shorter than retryMs, and a retried commit is never doubled.
    expect(failures.map((e) => e.message)).toEqual([]);
    expect(pushed.filter((v) => acked.get(v) !== 1)).toEqual([]);
    expect([...acked.keys()].filter((v) => v >= next)).toEqual([]);
    expect(left).toEqual([]);
  }, 120_000);
});

describeRedis('RedisStore, pub/sub across a restart', (server) => {
  it('a waiting consumer still wakes after redis-server was killed and restarted', async () => {
    const store = new RedisStore({ url: server().url, prefix: 'wake:', onWarning: () => undefined });
    const producer = new RedisStore({ url: server().url, prefix: 'wake:', onWarning: () => undefined });
    const q = await Queue.open<number>({ name: 'q', store, pollMs: 3_600_000 });
    const p = await Queue.open<number>({ name: 'q', store: producer });
    const got: number[] = [];
    const consumer = (async () => {
      for await (const lease of q) {
        got.push(...lease.entries.map((e) => e.value));
        await lease.ack();
        if (got.length === 2) break;
      }
    })();
    await p.push(1);
    while (got.length < 1) await sleep(10);
    await server().kill();
    await server().restart();
    const admin = new Redis(server().url);
    // The consumer's subscriber is back on the channel (the producer never waited, so it never subscribed).
    while (((await admin.pubsub('NUMSUB', 'wake:{q}:w')) as unknown[])[1] !== 1) await sleep(20);
    admin.disconnect();
    await p.push(2);
    await consumer;
    expect(got).toEqual([1, 2]);
    await q.close();
    await p.close();
    await store.close();
    await producer.close();
  });
});

describeRedis('RedisStore, a subscriber connection gone silent', (server) => {
  // A NAT or load balancer drops the idle pub/sub flow without a word, while heartbeats keep the commands connection busy.
  it('is found out and made again: a waiting consumer wakes for what another process pushed meanwhile', async () => {
    const proxy = await TcpProxy.start({ port: server().port });
    const store = new RedisStore({ url: proxy.url, prefix: 'silent:', ownerTtlMs: 1000, onWarning: () => undefined });
    const producer = new RedisStore({ url: server().url, prefix: 'silent:', onWarning: () => undefined });
    const q = await Queue.open<number>({ name: 'q', store, pollMs: 3_600_000 });
    const p = await Queue.open<number>({ name: 'q', store: producer });
    try {
      const got: number[] = [];
      const consumer = (async () => {
        for await (const lease of q) {
          got.push(...lease.entries.map((e) => e.value));
          await lease.ack();
          if (got.includes(2)) break;
        }
      })();
      await p.push(1);
      while (got.length < 1) await sleep(10);
      proxy.silenceSubscribers();
      await p.push(2);
      await Promise.race([consumer, sleep(8_000)]);
      expect(got).toEqual([1, 2]);
    } finally {
      await q.close();
      await p.close();
      await store.close();
      await producer.close();
      await proxy.close();
    }
  });
});

describeRedis('RedisStore, segments lost under the queue', (server) => {
  let n = 0;
  /** Items 0–14 in segments 0 (0–9) and 10 (10–14), then `damage` done to segment 10 by another client. */
  async function damaged(damage: (admin: Redis, key: string) => Promise<unknown>): Promise<RedisStore> {
    const prefix = `lost${n++}:`;
    const store = new RedisStore({ url: server().url, prefix, retryMs: 1000, onWarning: () => undefined });
    const q = await Queue.open<number>({ name: 'q', store, segmentItems: 10 });
    for (let k = 0; k < 15; k++) await q.push(k);
    await q.close();
    const admin = new Redis(server().url);
    await damage(admin, `${prefix}{q}:s:10`);
    admin.disconnect();
    return store;
  }

  /** Open refuses with ERR_CORRUPT, then with skip names the loss once and gives `kept` and what is pushed after. */
  async function opensPastTheLoss(store: RedisStore, kept: number): Promise<string[]> {
    const survivors = Array.from({ length: kept }, (_, k) => k);
    const options = { name: 'q', store, segmentItems: 10 } as const;
    const refused = await Queue.open<number>(options).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_CORRUPT' });
    const q = await Queue.open<number>({ ...options, corruption: 'skip' });
    const heard: { reason: string; lost: readonly string[] }[] = [];
    q.addEventListener('corrupt', (event) => heard.push(event.detail));
    await sleep(20);
    expect(heard.map((d) => d.reason)).toEqual(['missing']);
    expect((await q.list()).map((e) => e.value)).toEqual(survivors);
    await q.push(99);
    await q.close();
    const again = await Queue.open<number>({ ...options, corruption: 'skip' });
    expect((await again.list()).map((e) => e.value)).toEqual([...survivors, 99]);
    await again.close();
    await store.close();
    return [...heard[0]!.lost];
  }

  it('the newest segment deleted (by hand, or evicted): open reports the loss, and with skip reaches the older items', async () => {
    const store = await damaged((admin, key) => admin.del(key));
    expect(await opensPastTheLoss(store, 10)).toEqual(expect.arrayContaining(['10', '11', '12', '13', '14']));
  });

  it('the metadata of a drained queue deleted (evicted): numbers go on from where they were, never given again', async () => {
    const prefix = `floor${n++}:`;
    const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    const admin = new Redis(server().url);
    try {
      const q = await Queue.open<number>({ name: 'q', store });
      const old = await q.pushMany([1, 2, 3]);
      await (await q.take(3))!.ack();
      await admin.del(`${prefix}{q}:m`);
      const other = await Queue.open<number>({ name: 'q', store: new RedisStore({ url: server().url, prefix, onWarning: () => undefined }) });
      expect(other.recovered).toMatchObject([{ kind: 'meta-missing' }]);
      const ids = await other.pushMany([10, 11]);
      expect(ids.some((id) => old.includes(id))).toBe(false);
      // A stale handle's remove of an id it was given before takes nothing new.
      await q.remove([old[0]!]);
      expect((await other.list()).map((e) => e.value)).toEqual([10, 11]);
      await q.close();
      await other.close();
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('the metadata and the list of segments both lost (allkeys eviction): the segments are found and listed again, no id given twice', async () => {
    const prefix = `relist${n++}:`;
    const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    const admin = new Redis(server().url);
    try {
      const q = await Queue.open<number>({ name: 'q', store, segmentItems: 3 });
      const ids = await q.pushMany([1, 2, 3, 4, 5, 6, 7]);
      await (await q.take(1))!.ack();
      await admin.del(`${prefix}{q}:m`, `${prefix}{q}:l`);
      // Read as a new queue, it handed id 0 out again, over segment 0's unacked items, which nobody named.
      const other = await Queue.open<number>({ name: 'q', store: new RedisStore({ url: server().url, prefix, onWarning: () => undefined }), segmentItems: 3 });
      expect(other.recovered).toMatchObject([{ kind: 'meta-missing' }]);
      const values = (await other.list()).map((e) => e.value);
      expect(values).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 7]));
      const more = await other.pushMany([10, 11]);
      expect(more.some((id) => ids.includes(id))).toBe(false);
      // Lost again, and this time the handle that holds a current view commits first: it lists its own segment alone
      // no more.
      await q.push(9);
      await admin.del(`${prefix}{q}:m`, `${prefix}{q}:l`);
      await q.push(12);
      const third = await Queue.open<number>({ name: 'q', store: new RedisStore({ url: server().url, prefix, onWarning: () => undefined }), segmentItems: 3 });
      expect((await third.list()).map((e) => e.value)).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 7, 9, 10, 11, 12]));
      expect((await q.list()).map((e) => e.value)).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 7, 9, 10, 11, 12]));
      await q.close();
      await other.close();
      await third.close();
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('its version key alone lost (evicted): the handles go on, on corruption "throw" too, with no loss reported, no id given twice', async () => {
    const prefix = `token${n++}:`;
    const admin = new Redis(server().url);
    const stores = [0, 1].map(() => new RedisStore({ url: server().url, prefix, onWarning: () => undefined }));
    try {
      const [a, b] = await Promise.all(stores.map((store) => Queue.open<number>({ name: 'q', store })));
      const heard: string[] = [];
      for (const q of [a!, b!]) q.addEventListener('corrupt', (e) => heard.push(...e.detail.lost));
      const ids = await a!.pushMany([1, 2, 3]);
      await (await b!.take(1))!.ack();
      await admin.del(`${prefix}{q}:v`);
      const more = await a!.pushMany([4, 5]);
      expect(more.some((id) => ids.includes(id))).toBe(false);
      expect((await b!.list()).map((e) => e.value)).toEqual([2, 3, 4, 5]);
      await (await b!.take(1))!.ack();
      expect((await a!.list()).map((e) => e.value)).toEqual([3, 4, 5]);
      // Lost again, and this time a handle opened since (knowing no history) commits first.
      await admin.del(`${prefix}{q}:v`);
      const fresh = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
      const c = await Queue.open<number>({ name: 'q', store: fresh });
      await c.push(6);
      expect((await a!.list()).map((e) => e.value)).toEqual([3, 4, 5, 6]);
      await b!.push(7);
      expect((await c.list()).map((e) => e.value)).toEqual([3, 4, 5, 6, 7]);
      expect(heard).toEqual([]);
      await Promise.all([a!.close(), b!.close(), c.close()]);
      await fresh.close();
    } finally {
      admin.disconnect();
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("the same with a client of the app's whose keyPrefix ioredis puts before every key (but not in a SCAN's pattern)", async () => {
    const keyPrefix = `kp${n++}:`;
    const client = new Redis(server().url, { keyPrefix });
    const admin = new Redis(server().url);
    const store = new RedisStore({ client, onWarning: () => undefined });
    try {
      const q = await Queue.open<number>({ name: 'q', store, segmentItems: 3 });
      await q.pushMany([1, 2, 3, 4]);
      await admin.del(`${keyPrefix}sluice:{q}:m`, `${keyPrefix}sluice:{q}:l`);
      const other = await Queue.open<number>({ name: 'q', store: new RedisStore({ client, onWarning: () => undefined }), segmentItems: 3 });
      expect((await other.list()).map((e) => e.value)).toEqual([1, 2, 3, 4]);
      expect(await admin.exists(`${keyPrefix}sluice:{q}:v`)).toBe(1);
      await q.close();
      await other.close();
    } finally {
      admin.disconnect();
      await store.close();
      client.disconnect();
    }
  });

  it('its version key, metadata and list of segments all lost (allkeys eviction): the segments are found and listed again, no id given twice', async () => {
    const prefix = `all${n++}:`;
    const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    const admin = new Redis(server().url);
    const opened: Queue<number>[] = [];
    const open = async () => {
      opened.push(await Queue.open<number>({ name: 'q', store: new RedisStore({ url: server().url, prefix, onWarning: () => undefined }), segmentItems: 3 }));
      return opened.at(-1)!;
    };
    const lose = () => admin.del(`${prefix}{q}:v`, `${prefix}{q}:m`, `${prefix}{q}:l`);
    try {
      const q = await Queue.open<number>({ name: 'q', store, segmentItems: 3 });
      opened.push(q);
      const ids = await q.pushMany([1, 2, 3, 4, 5, 6, 7]);
      await (await q.take(1))!.ack();
      // A handle that knew the queue: it took the queue for deleted and made again, named what it held (nothing),
      // and wrote over segment 0, whose items nobody named.
      await lose();
      const more = await q.pushMany([8, 9]);
      expect(more.some((id) => ids.includes(id))).toBe(false);
      expect((await q.list()).map((e) => e.value)).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 7, 8, 9]));
      expect((await (await open()).list()).map((e) => e.value)).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 7, 8, 9]));
      // No handle open that knew it: the first to write finds the segment it would write over.
      for (const handle of opened.splice(0)) await handle.close();
      await lose();
      const fresh = await open();
      const last = await fresh.push(10);
      expect([...ids, ...more].includes(last)).toBe(false);
      expect((await fresh.list()).map((e) => e.value)).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 7, 8, 9, 10]));
      expect((await (await open()).list()).map((e) => e.value)).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 7, 8, 9, 10]));
    } finally {
      for (const handle of opened) await handle.close();
      admin.disconnect();
      await store.close();
    }
  });

  it('every key of a queue but its token lost: it reads as deleted, and a handle that knew it reports what it held', async () => {
    const prefix = `gone${n++}:`;
    const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    const admin = new Redis(server().url);
    try {
      const q = await Queue.open<number>({ name: 'q', store, corruption: 'skip' });
      const ids = await q.pushMany([1, 2, 3]);
      const keys = (await admin.keys(`${prefix}{q}:*`)).filter((key) => !key.endsWith(':v'));
      await admin.del(...keys);
      const other = await Queue.open<number>({ name: 'q', store: new RedisStore({ url: server().url, prefix, onWarning: () => undefined }) });
      expect(await admin.exists(`${prefix}{q}:v`)).toBe(0);
      await other.push(10);
      const lost = new Promise<string[]>((resolve) => q.addEventListener('corrupt', (e) => resolve([...e.detail.lost]), { once: true }));
      expect((await q.list()).map((e) => e.value)).toEqual([10]);
      expect(await lost).toEqual(ids);
      await q.close();
      await other.close();
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('the newest segment cut short: open reports the items past the cut, and with skip goes on', async () => {
    let kept = 0;
    const store = await damaged(async (admin, key) => {
      await admin.set(key, await admin.getrangeBuffer(key, 0, 19));
      kept = await admin.strlen(key);
    });
    expect(kept).toBe(20);
    // 20 bytes still hold items 10 and 11 whole.
    const lost = await opensPastTheLoss(store, 12);
    expect(lost).toEqual(expect.arrayContaining(['12', '13', '14']));
    expect(lost).not.toContain('11');
  });
});

describeRedis('RedisStore, a server that stops answering', (server) => {
  let n = 0;
  /** Generous: the bound is retryMs, the margin is for a loaded machine. */
  const MARGIN_MS = 8000;
  const settles = <T>(promise: Promise<T>, ms: number) =>
    Promise.race([promise.then(() => 'settled', (error: unknown) => error), sleep(ms).then(() => 'pending')]);

  async function stoppedServer(store: RedisStore, retryMs: number, prefix: string): Promise<void> {
    const q = await Queue.open<number>({ name: 'q', store });
    await q.push(1);
    server().signal('SIGSTOP');
    try {
      const pushed = await settles(q.push(2), retryMs + MARGIN_MS);
      expect(pushed).toMatchObject({ code: 'ERR_STORAGE' });
      expect((pushed as Error).message).toMatch(/did not answer within retryMs/);
      expect(await settles(q.close(), 3 * (retryMs + MARGIN_MS))).toBe('settled');
    } finally {
      server().signal('SIGCONT');
    }
    // The push's outcome was unknown: its commit may have run once the server woke, but never twice.
    const check = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    const c = await Queue.open<number>({ name: 'q', store: check });
    const values = (await c.list()).map((e) => e.value);
    expect(values[0]).toBe(1);
    expect(values.filter((v) => v === 2).length).toBeLessThanOrEqual(1);
    await c.close();
    await check.close();
  }

  it('a push rejects with ERR_STORAGE after about retryMs, and close() settles (a client the store made)', async () => {
    const prefix = `stop${n++}:`;
    const retryMs = 1000;
    const store = new RedisStore({ url: server().url, prefix, retryMs, ownerTtlMs: 60_000, onWarning: () => undefined });
    await stoppedServer(store, retryMs, prefix);
    expect(await settles(store.close(), retryMs + MARGIN_MS)).toBe('settled');
  }, 60_000);

  it('the same with a client of your own, which has no command timeout', async () => {
    const prefix = `stop${n++}:`;
    const retryMs = 1000;
    const client = new Redis(server().url);
    const store = new RedisStore({ client, prefix, retryMs, ownerTtlMs: 60_000, onWarning: () => undefined });
    try {
      await stoppedServer(store, retryMs, prefix);
      expect(await settles(store.close(), retryMs + MARGIN_MS)).toBe('settled');
    } finally {
      client.disconnect();
    }
  }, 60_000);
});
