import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { describeRedis } from '../../support/redis-suite.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Redis with snapshots only (the stock configuration): a crash brings back the last snapshot, and what handles did
// since is gone. Handles that lived through it go on; one lease of theirs must not ack what was pushed after it.
describeRedis(
  'RedisStore brought back to an older snapshot under live handles',
  (server) => {
    it("a lease taken before the crash does not ack the items pushed after it under the same ids: they are another's", async () => {
      const prefix = 'rollback:';
      const stores = [0, 1].map(() => new RedisStore({ url: server().url, prefix, retryMs: 10_000, onWarning: () => undefined }));
      const admin = new Redis(server().url);
      try {
        const a = await Queue.open<string>({ name: 'q', store: stores[0]! });
        await a.pushMany(['a0', 'a1', 'a2']);
        await admin.save();
        await a.pushMany(['a3', 'a4']);
        const lease = await a.take(5);
        expect(lease!.entries.map((e) => e.id)).toEqual(['0', '1', '2', '3', '4']);
        admin.disconnect();
        await server().kill();
        await server().restart();
        const b = await Queue.open<string>({ name: 'q', store: stores[1]! });
        expect(await b.pushMany(['b3', 'b4'])).toEqual(['3', '4']);
        await expect(lease!.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED', message: expect.stringMatching(/earlier state/) });
        expect((await b.list()).map((e) => e.value)).toEqual(['a0', 'a1', 'a2', 'b3', 'b4']);
        await a.close();
        await b.close();
      } finally {
        admin.disconnect();
      }
    });

    // What a handle read before the crash (the tail segment's bytes, a sealed one's, the metadata's records) is not
    // what the server holds after it: the same segment names may hold other handles' items now.
    for (const [shape, count] of [
      ['the tail segment', 3],
      ['a sealed segment', 10],
    ] as const) {
      it(`a handle that lived through it reads ${shape} again: it takes what is there, and its ack removes only that`, async () => {
        const prefix = `rollback-reads-${count}:`;
        const stores = [0, 1].map(() => new RedisStore({ url: server().url, prefix, retryMs: 10_000, onWarning: () => undefined }));
        const admin = new Redis(server().url);
        try {
          const a = await Queue.open<string>({ name: 'q', store: stores[0]!, segmentItems: 10 });
          await a.pushMany(Array.from({ length: 10 }, (_, i) => `a${i}`));
          await (await a.take(10))!.ack();
          await admin.save();
          // Gone with the crash: pushed after the snapshot, read by this handle.
          await a.pushMany(Array.from({ length: count }, (_, i) => `a${10 + i}`));
          admin.disconnect();
          await server().kill();
          await server().restart();
          const b = await Queue.open<string>({ name: 'q', store: stores[1]!, segmentItems: 10 });
          const pushed = Array.from({ length: count + 1 }, (_, i) => `b${10 + i}`);
          await b.pushMany(pushed);
          const lease = await a.take(count + 1);
          expect(lease!.entries.map((e) => e.value)).toEqual(pushed);
          await lease!.ack();
          expect(await b.list()).toEqual([]);
          await a.close();
          await b.close();
        } finally {
          admin.disconnect();
          await Promise.all(stores.map((s) => s.close()));
        }
      });
    }

    it('a read that fails after a reconnection is read again whole later; close still gives the leases back', async () => {
      const prefix = 'rollback-fails:';
      const stores = [0, 1].map(() => new RedisStore({ url: server().url, prefix, retryMs: 1000, onWarning: () => undefined }));
      const admin = new Redis(server().url);
      try {
        const a = await Queue.open<string>({ name: 'q', store: stores[0]! });
        const b = await Queue.open<string>({ name: 'q', store: stores[1]! });
        await a.pushMany(['x1', 'x2', 'x3']);
        await a.take(1);
        await b.push('x4');
        // Every client reconnects (as after a restart), and the segment reads are refused for a while.
        await admin.call('CLIENT', 'KILL', 'SKIPME', 'yes', 'TYPE', 'normal');
        await sleep(300);
        await admin.call('ACL', 'SETUSER', 'default', '-getrange');
        await expect(a.size()).rejects.toMatchObject({ code: 'ERR_STORAGE' });
        await admin.call('ACL', 'SETUSER', 'default', '+getrange');
        await a.close();
        expect((await b.take(5))!.entries.map((e) => e.value)).toEqual(['x1', 'x2', 'x3', 'x4']);
        await b.close();
      } finally {
        await admin.call('ACL', 'SETUSER', 'default', '+getrange');
        admin.disconnect();
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  },
  { args: ['--appendonly', 'no'] },
);
