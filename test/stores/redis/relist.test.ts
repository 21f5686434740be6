import { Redis } from 'ioredis';
import { expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { describeRedis } from '../../support/redis-suite.js';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);

describeRedis('RedisStore, the list of segments lost under the queue', (server) => {
  let n = 0;
  for (const lost of [['l'], ['v', 'l']]) {
    it(`list of segments lost (${lost.join('+')} deleted, metadata kept): a push still settles`, async () => {
      const prefix = `relist${n++}:`;
      const admin = new Redis(server().url);
      const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
      const store2 = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
      try {
        const q = await Queue.open<number>({ name: 'q', store, segmentItems: 3, corruption: 'skip' });
        await q.pushMany([1, 2, 3, 4, 5, 6, 7]);
        await admin.del(...lost.map((k) => `${prefix}{q}:${k}`));
        const fresh = await within(Queue.open<number>({ name: 'q', store: store2, segmentItems: 3, corruption: 'skip' }), 5000);
        let err: unknown;
        await within(fresh.push(100), 5000).catch((e) => (err = e));
        expect(err).toBeUndefined();
      } finally {
        admin.disconnect();
        await store.close().catch(() => undefined);
        await store2.close().catch(() => undefined);
      }
    }, 30000);

    it(`list of segments lost (${lost.join('+')} deleted, metadata kept): a handle that reads first delivers every item, none called lost`, async () => {
      const prefix = `relist-read${n++}:`;
      const admin = new Redis(server().url);
      const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
      const store2 = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
      try {
        const q = await Queue.open<number>({ name: 'q', store, segmentItems: 3 });
        await q.pushMany([1, 2, 3, 4, 5, 6, 7]);
        await (await q.take(2))!.ack();
        await q.close();
        await admin.del(...lost.map((k) => `${prefix}{q}:${k}`));
        // The default corruption 'throw': the open would fail, and 'skip', which it advises, would drop them for good.
        const fresh = await within(Queue.open<number>({ name: 'q', store: store2, segmentItems: 3 }), 5000);
        const corrupt: unknown[] = [];
        fresh.addEventListener('corrupt', (e) => corrupt.push(e.detail));
        const lease = await within(fresh.take(10), 5000);
        expect(lease?.entries.map((e) => e.value)).toEqual([3, 4, 5, 6, 7]);
        expect(corrupt).toEqual([]);
        await fresh.close();
      } finally {
        admin.disconnect();
        await store.close().catch(() => undefined);
        await store2.close().catch(() => undefined);
      }
    }, 30000);
  }
});

describeRedis('RedisStore where keys are evicted (allkeys-*): a queue created again over what is left', (server) => {
  it('version, metadata and list lost on a queue whose segment 0 was acked away: a fresh handle finds the rest', async () => {
    const prefix = 'seg0gone:';
    const admin = new Redis(server().url);
    const stores: RedisStore[] = [];
    const open = () => {
      stores.push(new RedisStore({ url: server().url, prefix, onWarning: () => undefined }));
      return Queue.open<number>({ name: 'q', store: stores.at(-1)!, segmentItems: 3 });
    };
    try {
      const q = await open();
      for (let n = 1; n <= 7; n++) await q.push(n);
      await (await q.take(3))!.ack();
      await q.push(8);
      await (await q.take(1))!.release();
      await q.close();
      await admin.del(`${prefix}{q}:v`, `${prefix}{q}:m`, `${prefix}{q}:l`);
      const fresh = await open();
      const id = await fresh.push(10);
      expect(Number(id)).toBeGreaterThanOrEqual(8);
      const values = (await (await open()).list()).map((e) => e.value);
      expect(values).toEqual(expect.arrayContaining([4, 5, 6, 7, 8, 10]));
      expect(values).not.toContain(1);
    } finally {
      admin.disconnect();
      for (const s of stores) await s.close().catch(() => undefined);
    }
  }, 30000);
}, { args: ['--maxmemory-policy', 'allkeys-lru'] });

describeRedis('RedisStore: a segment deleted under an open queue', (server) => {
  it("the next push is ERR_CORRUPT naming the items lost (a 'corrupt' event too), not the script's own refusal", async () => {
    const prefix = 'segdel:';
    const admin = new Redis(server().url);
    const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    try {
      const q = await Queue.open<number>({ name: 'q', store });
      const corrupt: { lost: readonly string[]; reason: string }[] = [];
      q.addEventListener('corrupt', (e) => corrupt.push(e.detail));
      for (let i = 0; i < 10; i++) await q.push(i);
      await admin.unlink(`${prefix}{q}:s:0`);
      const error = await within(q.push(10), 5000).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_CORRUPT' });
      // Told as a repair's findings are: a turn of the event loop later.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(corrupt).toHaveLength(1);
      expect(corrupt[0]).toMatchObject({ reason: 'missing' });
      expect(corrupt[0]!.lost.slice(0, 10)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      await q.close().catch(() => undefined);
    } finally {
      admin.disconnect();
      await store.close().catch(() => undefined);
    }
  }, 30000);
});

describeRedis('RedisStore: the list of segments lost alone, then a new segment written', (server) => {
  for (const corruption of ['throw', 'skip'] as const) {
    it(`a reader's take lists the older segments again and delivers them (corruption '${corruption}'), however often the list goes`, async () => {
      const prefix = `newseg-${corruption}:`;
      const admin = new Redis(server().url);
      const stores: RedisStore[] = [];
      const open = async () => {
        stores.push(new RedisStore({ url: server().url, prefix, onWarning: () => undefined }));
        return Queue.open<number>({ name: 'q', store: stores.at(-1)!, segmentItems: 3, corruption });
      };
      try {
        const w = await open();
        for (let i = 1; i <= 6; i++) await w.push(i);
        const r = await open();
        for (const [round, before, next] of [[1, [], 7], [2, [8, 9], 10]] as const) {
          for (const item of before) await w.push(item);
          await admin.del(`${prefix}{q}:l`);
          // A new segment (the others are full): its commit writes a list naming it alone.
          await w.push(next);
          const corrupt: unknown[] = [];
          r.addEventListener('corrupt', (e) => corrupt.push(e.detail));
          const got: number[] = [];
          for (let lease; (lease = await within(r.take(10), 5000)); ) {
            got.push(...lease.entries.map((e) => e.value));
            await lease.ack();
          }
          expect(got, `round ${round}`).toEqual(round === 1 ? [1, 2, 3, 4, 5, 6, 7] : [8, 9, 10]);
          expect(corrupt).toEqual([]);
        }
      } finally {
        admin.disconnect();
        for (const s of stores) await s.close().catch(() => undefined);
      }
    }, 30000);
  }

  it('every key of the queue deleted under a handle with a lease: size() says so as every read does, close() resolves', async () => {
    const prefix = `gone${Date.now()}:`;
    const admin = new Redis(server().url);
    const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    try {
      const q = await Queue.open<number>({ name: 'q', store });
      await q.pushMany([1, 2, 3]);
      await q.take(1);
      const corrupt: unknown[] = [];
      q.addEventListener('corrupt', (e) => corrupt.push(e.detail));
      await admin.del(...(await admin.keys(`${prefix}*`)));
      await expect(q.stats()).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
      // It resolved 0: a health check polling it saw an empty queue while 3 items were lost.
      await expect(q.size()).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
      await vi.waitFor(() => expect(corrupt).toMatchObject([{ reason: 'missing', lost: ['0', '1', '2'] }]));
      await q.close();
    } finally {
      admin.disconnect();
      await store.close().catch(() => undefined);
    }
  }, 30000);
});
