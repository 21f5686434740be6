// What the store's scripts do where a real Redis refuses them something: commands an ACL user lacks or a server
// renamed, keys another app deleted, another app's script keeping the server busy.
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Queue, type SluiceError } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import type { RedisServer } from '../../support/redis-server.js';
import { describeRedis } from '../../support/redis-suite.js';

const quiet = { onWarning: () => undefined };
let n = 0;

/** A store whose connection logs in as a fresh ACL user with `rules` (on every key and channel besides). */
async function storeAs(server: RedisServer, rules: string, onWarning: (message: string) => void = () => undefined): Promise<RedisStore> {
  const admin = new Redis(server.url);
  const user = `u${n++}`;
  await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', ...rules.split(' '));
  await admin.quit();
  return new RedisStore({ url: `redis://${user}:pw@127.0.0.1:${server.port}`, prefix: `${user}:`, onWarning });
}

/** Pushes, takes and acks through `store`, a second handle waiting for the push as a consumer does. */
async function roundTrip(store: RedisStore): Promise<void> {
  const q = await Queue.open<number>({ name: 'q', store, leaseMs: 60_000 });
  try {
    const waiting = q.iterate({ max: 1 })[Symbol.asyncIterator]().next();
    await q.push(1);
    const { value: lease } = await waiting;
    expect(lease!.entries.map((e) => e.value)).toEqual([1]);
    await lease!.ack();
    await q.push(2);
    const next = (await q.take(1))!;
    await next.extend(90_000);
    await next.ack();
    expect(await q.size()).toBe(0);
  } finally {
    await q.close();
    await store.close();
  }
}

describeRedis('RedisStore scripts on a Redis that refuses them something', (server) => {
  it.each([
    ['TIME refused (each machine keeps to its own clock)', '+@all -time'],
    ['INFO refused (`+@all -@dangerous`, a common recipe)', '+@all -@dangerous'],
    ['INFO and TIME refused', '+@all -info -time'],
  ])('%s: queues open and work', async (_, rules) => {
    await roundTrip(await storeAs(server(), rules));
  });

  it("'strict' where INFO is refused says it cannot count the server's replicas, rather than wait for none without a word", async () => {
    const warnings: string[] = [];
    const store = await storeAs(server(), '+@all -@dangerous', (message) => warnings.push(message));
    const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
    try {
      await q.push(1);
      expect(warnings).toContainEqual(expect.stringContaining("durability 'strict' cannot count the server's replicas: INFO is refused"));
    } finally {
      await q.close();
      await store.close();
    }
  });

  it.each([
    ['DEL', '+@all -del'],
    ['PUBLISH', '+@all -publish'],
    ['EVALSHA', '+@all -evalsha'],
  ])('a command the store needs refused (%s): ERR_STORAGE saying the user may not run it', async (_, rules) => {
    const store = await storeAs(server(), rules);
    const q = await Queue.open<number>({ name: 'q', store }).catch((error: SluiceError) => error);
    try {
      const failed = q instanceof Error ? q : await (async () => {
        for (let i = 0; i < 3; i++) {
          const error = await q.push(i).then(async () => (await q.take(1))!.ack(), (e: SluiceError) => e).catch((e: SluiceError) => e);
          if (error) return error;
        }
        return undefined;
      })();
      expect(failed).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('may not run a command the store needs') });
    } finally {
      if (!(q instanceof Error)) await q.close().catch(() => undefined);
      await store.close().catch(() => undefined);
    }
  });

  it('the metadata key alone deleted under live handles: the next take, release and ack load again and go on (recover meta-missing), never ERR_STORAGE', async () => {
    const prefix = `meta${n++}:`;
    const store = new RedisStore({ url: server().url, prefix, ...quiet });
    const admin = new Redis(server().url);
    try {
      const q = await Queue.open<number>({ name: 'q', store });
      const kinds: string[] = [];
      q.addEventListener('recover', (e) => kinds.push(e.detail.kind));
      await q.pushMany([1, 2, 3, 4]);
      const held = (await q.take(1))!;
      const metaKey = (await admin.keys(`${prefix}*`)).find((key) => key.endsWith(':m'))!;
      expect(metaKey).toBeDefined();
      await admin.del(metaKey);
      const lease = (await q.take(1))!;
      await admin.del(metaKey);
      await lease.release();
      await admin.del(metaKey);
      // The lease taken before the first loss: its ack is refused as the README says of a rebuilt metadata.
      await expect(held.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
      expect(kinds).toContain('meta-missing');
      // Nothing was acked: every item is there.
      expect(await q.size()).toBe(4);
      await q.close();
    } finally {
      await admin.quit();
      await store.close();
    }
  });
});

describeRedis(
  "RedisStore while another app's script keeps Redis busy",
  (server) => {
    it('BUSY is waited out within retryMs, as a restart is: calls resolve once the script ends', async () => {
      const store = new RedisStore({ url: server().url, prefix: 'busy:', retryMs: 10_000, ...quiet });
      const other = new Redis(server().url);
      try {
        const q = await Queue.open<number>({ name: 'q', store });
        await q.push(0);
        // About 1.5 s of Lua on the server: past its threshold, every other client is answered BUSY.
        const script = other.eval("local t = redis.call('TIME'); local s = tonumber(t[1]) + tonumber(t[2]) / 1e6; while true do t = redis.call('TIME'); if tonumber(t[1]) + tonumber(t[2]) / 1e6 - s > 1.5 then break end end return 1", 0);
        await new Promise((resolve) => setTimeout(resolve, 400));
        await q.push(1);
        const lease = (await q.take(2))!;
        await lease.ack();
        expect(await q.size()).toBe(0);
        await script;
        await q.close();
      } finally {
        await other.quit();
        await store.close();
      }
    });
  },
  { args: ['--busy-reply-threshold', '200'] },
);
