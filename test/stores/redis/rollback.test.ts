import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { Outbox, Queue, type Lease, type OutboxCorruptDetail, type OutboxOptions, type RemoveOptions } from '../../../src/index.js';
import { HELD_ONLY } from '../../../src/core/rewinds.js';
import { RedisStore } from '../../../src/redis.js';
import { RedisCluster } from '../../support/redis-cluster.js';
import { FaultyStore } from '../../support/faulty-store.js';
import { describeRedis } from '../../support/redis-suite.js';
import type { RedisServer } from '../../support/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * After a rewind that took `count` items `a` had read: another handle pushes `count + 1` under the same ids, and `a`,
 * reading again whole, takes and acks exactly those (not what it read before); then both close.
 */
async function expectReadAgain(a: Queue<string>, name: string, store: RedisStore, count: number): Promise<void> {
  const b = await Queue.open<string>({ name, store, segmentItems: 10 });
  const pushed = Array.from({ length: count + 1 }, (_, i) => `b${10 + i}`);
  await b.pushMany(pushed);
  const lease = await a.take(count + 1);
  expect(lease!.entries.map((e) => e.value)).toEqual(pushed);
  await lease!.ack();
  expect(await b.list()).toEqual([]);
  await a.close();
  await b.close();
}

// Redis with snapshots only (the stock configuration): a crash brings back the last snapshot, and what handles did
// since is gone. Handles that lived through it go on; one lease of theirs must not ack what was pushed after it.
describeRedis(
  'RedisStore brought back to an older snapshot under live handles',
  (server) => {
    /** Two stores under `prefix`, as two processes have. */
    const twoStores = (prefix: string) => [0, 1].map(() => new RedisStore({ url: server().url, prefix, retryMs: 10_000, onWarning: () => undefined }));

    /**
     * `a` pushes `saved`, which the server snapshots, then `after`, and `then` runs (a take, a read); then the server
     * crashes and comes back from the snapshot. Resolves what `then` did.
     */
    async function crashAfter<R>(a: Queue<string>, saved: string[], after: string[], then: () => Promise<R>): Promise<R> {
      const admin = new Redis(server().url);
      let result: R;
      try {
        await a.pushMany(saved);
        await admin.save();
        await a.pushMany(after);
        result = await then();
      } finally {
        admin.disconnect();
      }
      await server().kill();
      await server().restart();
      return result;
    }

    for (const taken of [false, true]) {
      // Before, a lease's ack told another item under its id only by fewer attempts: one taken and released as often
      // passed, and the ack removed it.
      it(`a lease taken before the crash does not ack the items pushed after it under the same ids${taken ? ', even once taken and released as often as its own' : ''}: they are another's`, async () => {
        const stores = twoStores(`rollback-${taken}:`);
        const a = await Queue.open<string>({ name: 'q', store: stores[0]! });
        const lease = await crashAfter(a, ['a0', 'a1', 'a2'], ['a3', 'a4'], () => a.take(5));
        expect(lease!.entries.map((e) => e.id)).toEqual(['0', '1', '2', '3', '4']);
        const b = await Queue.open<string>({ name: 'q', store: stores[1]! });
        expect(await b.pushMany(['b3', 'b4'])).toEqual(['3', '4']);
        if (taken) await (await b.take(5))!.release();
        await expect(lease!.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED', message: expect.stringMatching(/earlier state/) });
        expect((await b.list()).map((e) => e.value)).toEqual(['a0', 'a1', 'a2', 'b3', 'b4']);
        await a.close();
        await b.close();
      });
    }

    // What the outbox's acks ask for: before, an ack by entry id whose own commit first saw the store gone back removed
    // the item another handle had pushed since under that id.
    it('a removal asking for leased items only (HELD_ONLY) leaves what no lease holds after the crash: items pushed since under the ids', async () => {
      const stores = twoStores('rollback-held-only:');
      const a = await Queue.open<string>({ name: 'q', store: stores[0]! });
      const lease = await crashAfter(a, ['a0'], ['a1'], () => a.take(2));
      expect(lease!.entries.map((e) => e.id)).toEqual(['0', '1']);
      const b = await Queue.open<string>({ name: 'q', store: stores[1]! });
      expect(await b.push('b1')).toBe('1');
      const heldOnly = { [HELD_ONLY]: () => true } as RemoveOptions;
      expect(await a.remove(['0', '1'], heldOnly)).toBe(0);
      expect((await b.list()).map((e) => e.value)).toEqual(['a0', 'b1']);
      // Leased by b now: a lease holds it, and it goes.
      await b.take(1);
      expect(await a.remove(['0'], heldOnly)).toBe(1);
      await a.close();
      await b.close();
    });

    // Before, only what a handle committed counted as given out: one that had only read ids 3 and 4 gave them to new
    // items after the crash, and told nothing of the items they had named.
    it('a handle that only read the items the crash took tells their loss, and never gives their ids out again', async () => {
      const stores = twoStores('rollback-read:');
      const a = await Queue.open<string>({ name: 'q', store: stores[0]! });
      const reader = await Queue.open<string>({ name: 'q', store: stores[1]!, corruption: 'skip' });
      const lost: string[] = [];
      reader.addEventListener('corrupt', (e) => lost.push(...e.detail.lost));
      const read = await crashAfter(a, ['a0', 'a1', 'a2'], ['a3', 'a4'], () => reader.list());
      expect(read.map((e) => e.id)).toEqual(['0', '1', '2', '3', '4']);
      const ids = await reader.pushMany(['r1', 'r2']);
      expect(ids.map(Number).every((id) => id >= 5)).toBe(true);
      await sleep(20);
      expect(lost).toEqual(['3', '4']);
      await a.close().catch(() => undefined);
      await reader.close();
    });

    // Before, the loss was told as each try of the repair was planned: a try that lost its race to another handle's
    // push had named ids that push gave to new items, and the next try named the rest again.
    it("with corruption 'skip', a loss is told once its repair is stored, naming no id another handle gave to a new item meanwhile", async () => {
      const [inner, plain] = twoStores('rollback-race:');
      const faulty = new FaultyStore(inner!);
      try {
        const a = await Queue.open<string>({ name: 'q', store: faulty, corruption: 'skip' });
        const lost: (readonly string[])[] = [];
        a.addEventListener('corrupt', (e) => lost.push(e.detail.lost));
        await crashAfter(a, ['a0', 'a1', 'a2'], ['a3', 'a4', 'a5'], async () => undefined);
        const b = await Queue.open<string>({ name: 'q', store: plain! });
        // A's first try is planned on what it knew (and refused); the second, the repair, loses its race to B.
        let raced: string[] | undefined;
        let tries = 0;
        faulty.beforeCommit = async () => void (++tries === 2 && (raced = await b.pushMany(['b3', 'b4'])));
        const id = await a.push('a6');
        await sleep(20);
        expect(raced).toEqual(['3', '4']);
        expect(lost).toEqual([['5']]);
        expect(Number(id)).toBeGreaterThanOrEqual(6);
        await a.close();
        await b.close();
      } finally {
        await plain!.close();
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
          await expectReadAgain(a, 'q', stores[1]!, count);
        } finally {
          admin.disconnect();
          await Promise.all(stores.map((s) => s.close()));
        }
      });
    }

    // Not a restart: the queue's keys deleted (a FLUSHALL, a DEL by hand or by a script) and made again by another
    // handle, while this one stays connected to the same server process. The items it knew unacked are lost, and
    // said so: exactly those, though the ids of some are given to new items (and the acks of others are gone too).
    it('a handle that lived through its keys being deleted reads again whole: never cuts the items another pushed since, nor takes what it read before', async () => {
      const prefix = 'rollback-deleted:';
      const stores = [0, 1].map(() => new RedisStore({ url: server().url, prefix, retryMs: 10_000, onWarning: () => undefined }));
      const admin = new Redis(server().url);
      try {
        const a = await Queue.open<string>({ name: 'q', store: stores[0]!, segmentItems: 10, corruption: 'skip' });
        const lost: (readonly string[])[] = [];
        a.addEventListener('corrupt', (e) => lost.push([...e.detail.lost]));
        await a.pushMany(Array.from({ length: 8 }, (_, i) => `a${i}`));
        await (await a.take(2))!.ack();
        const keys = await admin.keys(`${prefix}{q}:*`);
        await admin.del(...keys.filter((k) => !/:[hc]:/.test(k)));
        await expectReadAgain(a, 'q', stores[1]!, 10);
        expect(lost).toEqual([['2', '3', '4', '5', '6', '7']]);
      } finally {
        admin.disconnect();
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    for (const remade of [false, true]) {
      it(`its keys deleted${remade ? ', and the queue made again by another handle' : ''}: the next call rejects ERR_CORRUPT naming exactly the items it knew unacked (corruption 'throw')`, async () => {
        const prefix = `deleted-throw-${remade}:`;
        const stores = [0, 1].map(() => new RedisStore({ url: server().url, prefix, onWarning: () => undefined }));
        const admin = new Redis(server().url);
        try {
          const a = await Queue.open<string>({ name: 'q', store: stores[0]!, segmentItems: 4 });
          await a.pushMany(['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
          await (await a.take(2))!.ack();
          await admin.flushall();
          if (remade) {
            // Ids 0 to 2 go to new items: a2 (id 2) is lost all the same.
            const b = await Queue.open<string>({ name: 'q', store: stores[1]! });
            await b.pushMany(['b0', 'b1', 'b2']);
            await b.close();
          }
          const heard: string[][] = [];
          a.addEventListener('corrupt', (e) => heard.push([...e.detail.lost]));
          // Every call is refused until the queue is opened again with 'skip'; the loss is told once.
          for (let call = 0; call < 3; call++) {
            const error = await a.list().then(() => undefined, (e: unknown) => e);
            expect(error).toMatchObject({ code: 'ERR_CORRUPT' });
            expect((error as Error).message).toMatch(/4 unacked items .*\(ids 2 to 5\).*deleted/);
          }
          await sleep(20);
          expect(heard).toEqual([['2', '3', '4', '5']]);
          await a.close().catch(() => undefined);
        } finally {
          admin.disconnect();
          await Promise.all(stores.map((s) => s.close()));
        }
      });
    }

    it('a large queue deleted under a live handle: its loss is told, once, and the handle goes on (corruption skip)', async () => {
      const prefix = 'deleted-large:';
      const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
      const admin = new Redis(server().url);
      try {
        const a = await Queue.open<number>({ name: 'q', store, corruption: 'skip' });
        const heard: number[] = [];
        a.addEventListener('corrupt', (e) => heard.push(e.detail.lost.length));
        // More ids than a call's arguments can spread.
        const count = 150_000;
        for (let i = 0; i < count; i += 25_000) await a.pushMany(Array.from({ length: 25_000 }, (_, k) => i + k));
        await admin.flushall();
        await a.push(-1);
        await a.push(-2);
        expect((await a.list()).map((e) => e.value)).toEqual([-1, -2]);
        await sleep(20);
        expect(heard).toEqual([count]);
        await a.close();
      } finally {
        admin.disconnect();
        await store.close();
      }
    }, 60_000);

    for (const partitions of [1, 2]) {
      it(`an outbox whose keys were deleted names the tasks it lost, by their ids (${partitions} partition${partitions > 1 ? 's' : ''})`, async () => {
        const prefix = `deleted-outbox-${partitions}:`;
        const store = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
        const admin = new Redis(server().url);
        const offline: typeof fetch = () => Promise.reject(new TypeError('offline'));
        try {
          const outbox = await Outbox.open({ name: 'o', store, baseUrl: 'http://127.0.0.1:59', fetch: offline, corruption: 'skip', partitions });
          const heard: OutboxCorruptDetail[] = [];
          outbox.addEventListener('corrupt', (e) => heard.push(e.detail));
          await outbox.enqueueMany(['a', 'b', 'c', 'd'].map((id) => ({ url: '/x', id, group: id })));
          await admin.flushall();
          // Into the same groups, so into every partition the lost tasks were in: each finds its keys gone.
          await outbox.enqueueMany(['a', 'b', 'c', 'd'].map((group) => ({ url: '/x', id: `new-${group}`, group })));
          // Told once each repair is stored, named by the outbox as it reads the tasks: a moment after.
          await vi.waitFor(() => expect(heard.filter((d) => d.queue === 'o').flatMap((d) => d.tasks ?? []).sort()).toEqual(['a', 'b', 'c', 'd']));
          expect(heard.filter((d) => d.queue === 'o').flatMap((d) => d.lost)).toHaveLength(4);
          expect((await outbox.list()).map((t) => t.id).sort()).toEqual(['new-a', 'new-b', 'new-c', 'new-d']);
          await outbox.close();
        } finally {
          admin.disconnect();
          await store.close();
        }
      });
    }

    /**
     * Runs `test` with two stores under `prefix` (two processes) and outbox options whose fetch records each request's
     * path in `sent` and answers what `respond` makes of it (200); `crash` brings the server back from its last save.
     */
    async function withOutboxes(
      prefix: string,
      test: (t: { stores: RedisStore[]; sent: string[]; options: OutboxOptions & { name: string }; save: () => Promise<unknown>; crash: () => Promise<void> }) => Promise<void>,
      respond: (path: string) => Response | Promise<Response> = () => new Response('ok'),
    ): Promise<void> {
      const stores = twoStores(prefix);
      const admin = new Redis(server().url);
      const sent: string[] = [];
      const fetch: typeof globalThis.fetch = async (input) => {
        const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
        sent.push(path);
        return respond(path);
      };
      const crash = async () => {
        await server().kill();
        await server().restart();
      };
      try {
        await test({ stores, sent, options: { name: 'o', baseUrl: 'http://127.0.0.1:59', corruption: 'skip', fetch }, save: () => admin.save(), crash });
      } finally {
        admin.disconnect();
        await Promise.all(stores.map((s) => s.close()));
      }
    }

    // Before, a delivering outbox counted the ids it had read as read for good: tasks a handle opened after the crash
    // enqueued under them were stored (its `size` counted them) and never listed, flushed nor sent by it.
    it('an outbox that lived through it delivers the tasks another handle enqueued since under ids it had read', () =>
      withOutboxes('rollback-outbox-reused:', async ({ stores, sent, options, save, crash }) => {
        const a = await Outbox.open({ ...options, store: stores[0]! });
        a.start();
        await a.enqueue({ url: '/w0' });
        await vi.waitFor(() => expect(sent).toEqual(['/w0']));
        await save();
        await a.enqueueMany([{ url: '/x1' }, { url: '/x2' }]);
        await vi.waitFor(() => expect(sent).toEqual(['/w0', '/x1', '/x2']));
        await crash();
        // An instance that only enqueues (a web handler), opened after the crash: it reads ids 1 and 2 as free.
        const b = await Outbox.open({ ...options, store: stores[1]! });
        await b.enqueueMany([{ url: '/y1' }, { url: '/y2' }]);
        await vi.waitFor(() => expect(sent.slice(3).sort()).toEqual(['/y1', '/y2']), { timeout: 10_000 });
        await vi.waitFor(async () => expect(await a.size()).toBe(0));
        await a.close();
        await b.close();
      }), 30_000);

    it('an outbox that lived through it with tasks pending lists and sends what another handle stored under their ids, not them', () =>
      withOutboxes('rollback-outbox-replaced:', async ({ stores, sent, options, save, crash }) => {
        const a = await Outbox.open({ ...options, store: stores[0]! });
        const heard: OutboxCorruptDetail[] = [];
        a.addEventListener('corrupt', (e) => heard.push(e.detail));
        await a.enqueue({ url: '/w0', id: 'w0' });
        await save();
        await a.enqueueMany([{ url: '/x1', id: 'x1' }, { url: '/x2', id: 'x2' }]);
        expect((await a.list()).map((t) => t.id)).toEqual(['w0', 'x1', 'x2']);
        await crash();
        const b = await Outbox.open({ ...options, store: stores[1]! });
        await b.enqueueMany([{ url: '/y1', id: 'y1' }, { url: '/y2', id: 'y2' }]);
        expect((await a.list()).map((t) => t.id)).toEqual(['w0', 'y1', 'y2']);
        a.start();
        await vi.waitFor(() => expect(sent).toEqual(['/w0', '/y1', '/y2']));
        expect(heard).toMatchObject([{ queue: 'o', lost: ['1', '2'], tasks: ['x1', 'x2'], action: 'skip', reason: 'missing' }]);
        await a.close();
        await b.close();
      }), 30_000);

    // Before, the ack of x1's response, by its entry id, removed y1 (waiting to be tried again) unsent, without a word.
    it("a task in flight when another handle's task took its entry id: its response acks nothing of that task, which is sent", () => {
      let answer!: () => void;
      const answered = new Promise<void>((resolve) => (answer = resolve));
      let triedY1 = false;
      // x1 answers when told; the first try of y1 fails, so that it waits to be tried again as x1's response comes.
      const respond = async (path: string) => {
        if (path === '/x1') await answered;
        const failed = path === '/y1' && !triedY1;
        if (path === '/y1') triedY1 = true;
        return new Response('ok', { status: failed ? 503 : 200 });
      };
      return withOutboxes('rollback-outbox-busy:', async ({ stores, sent, options, save, crash }) => {
        const a = await Outbox.open({ ...options, store: stores[0]!, retry: { initialDelayMs: 300 } });
        const heard: OutboxCorruptDetail[] = [];
        a.addEventListener('corrupt', (e) => heard.push(e.detail));
        await a.enqueue({ url: '/w0', id: 'w0' });
        await save();
        await a.enqueue({ url: '/x1', id: 'x1' });
        a.start();
        await vi.waitFor(() => expect(sent).toContain('/x1'));
        await crash();
        const b = await Outbox.open({ ...options, store: stores[1]! });
        await b.enqueueMany([{ url: '/y1', id: 'y1', group: 'y' }, { url: '/y2', id: 'y2', group: 'y' }]);
        expect((await a.list()).map((t) => t.id)).toEqual(expect.arrayContaining(['y1', 'y2']));
        await vi.waitFor(() => expect(sent).toContain('/y1'));
        answer();
        await vi.waitFor(() => expect(sent.filter((path) => path === '/y1')).toEqual(['/y1', '/y1']), { timeout: 10_000 });
        await vi.waitFor(async () => expect(await b.size()).toBe(0));
        expect(heard).toMatchObject([{ queue: 'o', lost: ['1'], tasks: ['x1'] }]);
        await a.close();
        await b.close();
      }, respond);
    }, 30_000);

    // Before, outbox.remove read the queue again only for ids it did not hold, and removed x1's entry id: y1's now.
    it("outbox.remove of a task another handle's task replaced since removes nothing of that task", () =>
      withOutboxes(
        'rollback-outbox-remove:',
        async ({ stores, options, save, crash }) => {
          const a = await Outbox.open({ ...options, store: stores[0]! });
          await a.enqueue({ url: '/w0', id: 'w0' });
          await save();
          await a.enqueue({ url: '/x1', id: 'x1' });
          await crash();
          const b = await Outbox.open({ ...options, store: stores[1]! });
          await b.enqueue({ url: '/y1', id: 'y1' });
          expect(await a.remove(['x1'])).toBe(0);
          expect((await b.list()).map((t) => t.id)).toEqual(['w0', 'y1']);
          await a.close();
          await b.close();
        },
        () => Promise.reject(new TypeError('offline')),
      ), 30_000);

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

// A Cluster node fails over to a replica that had not caught up: the queue's slot is served by another process, which
// holds an earlier state, while the Cluster client as a whole never reconnects. Each test uses a queue on a shard of
// its own (SHARDS, one per test), so that they fail over one after another on one cluster.
const SHARDS = 6;
describeRedis('RedisStore on a Cluster whose node fails over to a replica behind it', () => {
  let cluster: RedisCluster;
  const clients: Cluster[] = [];
  const client = () => {
    const c = new Cluster(cluster.startupNodes);
    clients.push(c);
    return c;
  };
  /** The primaries of the shards handed to a test. */
  const usedShards = new Set<number>();
  beforeAll(async () => {
    cluster = await RedisCluster.start(SHARDS, 1);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  /**
   * A queue name whose slot is on a shard no earlier test failed over, and `failover()`, which makes that shard's
   * replica fall behind (stopped, its link cut) from now on, lets its primary take `behind()` alone, then kills the
   * primary and promotes the replica.
   */
  async function shard(prefix: string): Promise<{ name: string; replica: RedisServer; failover: (behind: () => Promise<unknown>) => Promise<void> }> {
    const admin = client();
    const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number], [string, number]][];
    for (let i = 0; i < 10_000; i++) {
      const name = `q${i}`;
      const slot = Number(await admin.cluster('KEYSLOT', `${prefix}{${name}}:v`));
      const range = slots.find(([from, to]) => slot >= from && slot <= to);
      // A shard failed over before has lost its primary, and serves without a replica now; while that failover is
      // still spreading through the cluster, the node asked may list no range for its slots at all.
      if (!range?.[3] || usedShards.has(range[2][1])) continue;
      usedShards.add(range[2][1]);
      const primary = cluster.nodes.find((n) => n.port === range[2][1])!;
      const replica = cluster.nodes.find((n) => n.port === range[3][1])!;
      const failover = async (behind: () => Promise<unknown>) => {
        const toPrimary = new Redis(primary.url);
        const toReplica = new Redis(replica.url);
        try {
          // Everything so far is on the replica; what `behind` writes will not be.
          await toPrimary.set(`${prefix}{${name}}:sync`, '1');
          expect(await toPrimary.wait(1, 5000)).toBe(1);
          replica.signal('SIGSTOP');
          await toPrimary.call('CLIENT', 'KILL', 'TYPE', 'replica');
          await behind();
          toPrimary.disconnect();
          await primary.kill();
          replica.signal('SIGCONT');
          await toReplica.cluster('FAILOVER', 'TAKEOVER');
          while (!/role:master/.test(await toReplica.info('replication'))) await sleep(50);
        } finally {
          replica.signal('SIGCONT');
          toPrimary.disconnect();
          toReplica.disconnect();
        }
      };
      return { name, replica, failover };
    }
    throw new Error(`every shard failed over already: make SHARDS (${SHARDS}) one per test`);
  }

  it("a lease taken before the failover does not ack the items pushed after it under the same ids: they are another's", async () => {
    const prefix = 'failover-ack:';
    const { name, failover } = await shard(prefix);
    const stores = [0, 1].map(() => new RedisStore({ client: client(), prefix, onWarning: () => undefined }));
    try {
      const a = await Queue.open<string>({ name, store: stores[0]! });
      await a.pushMany(['a0', 'a1', 'a2']);
      let lease: Lease<string> | undefined;
      await failover(async () => {
        await a.pushMany(['a3', 'a4']);
        lease = await a.take(5);
      });
      expect(lease!.entries.map((e) => e.id)).toEqual(['0', '1', '2', '3', '4']);
      const b = await Queue.open<string>({ name, store: stores[1]! });
      expect(await b.pushMany(['b3', 'b4'])).toEqual(['3', '4']);
      await expect(lease!.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED' });
      expect((await b.list()).map((e) => e.value)).toEqual(['a0', 'a1', 'a2', 'b3', 'b4']);
      await a.close();
      await b.close();
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }, 60_000);

  // Before, a strict commit's script and its WAIT, one pipeline, came back MOVED from the old primary, and the push
  // rejected with that raw reply: the Cluster client redirects single commands, not pipelines.
  it('strict pushes through a graceful failover (CLUSTER FAILOVER) go on to the new primary: none rejects', async () => {
    const prefix = 'failover-moved:';
    const { name, replica } = await shard(prefix);
    const store = new RedisStore({ client: client(), prefix, onWarning: () => undefined });
    const toReplica = new Redis(replica.url);
    try {
      const q = await Queue.open<number>({ name, store, durability: 'strict' });
      let stop = false;
      let pushed = 0;
      const errors: unknown[] = [];
      const loop = (async () => {
        while (!stop) await q.push(pushed).then(() => pushed++, (error: unknown) => errors.push(error));
      })();
      await sleep(200);
      await toReplica.cluster('FAILOVER');
      while (!/role:master/.test(await toReplica.info('replication'))) await sleep(50);
      await sleep(500);
      stop = true;
      await loop;
      expect(errors).toEqual([]);
      expect(await q.size()).toBe(pushed);
      await q.close();
    } finally {
      toReplica.disconnect();
      await store.close();
    }
  }, 60_000);

  it('a handle judges nobody gone for ownerTtlMs after the failover: live owners have not yet beaten on the new primary', async () => {
    const prefix = 'failover-gone:';
    const { name, failover } = await shard(prefix);
    const warnings: string[] = [];
    const options = { prefix, ownerTtlMs: 1000, onWarning: (m: string) => warnings.push(m) };
    const stores = [0, 1].map(() => new RedisStore({ client: client(), ...options }));
    try {
      const a = await Queue.open<string>({ name, store: stores[0]!, leaseMs: 600_000 });
      const b = await Queue.open<string>({ name, store: stores[1]!, leaseMs: 600_000 });
      await a.pushMany(['x1', 'x2', 'x3']);
      const mine = await a.take(1);
      await (await b.take(1))!.ack();
      // The replica misses A's heartbeat refreshes for longer than ownerTtlMs: on it, A's heartbeat has expired.
      await failover(() => sleep(1500));
      // B has read nothing new (nothing was committed): it takes at once, on the new primary.
      const theirs = await b.take(1);
      expect(theirs!.entries.map((e) => e.value)).toEqual(['x3']);
      await theirs!.ack();
      await mine!.ack();
      expect(warnings.filter((m) => /took its leases back/.test(m))).toEqual([]);
      await a.close();
      await b.close();
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }, 60_000);

  it("reads the promoted replica's settings: its eviction policy is warned about, and strict commits wait for a replica it does not have yet", async () => {
    const prefix = 'failover-settings:';
    const { name, replica, failover } = await shard(prefix);
    const warnings: string[] = [];
    const evictions = () => warnings.filter((m) => /maxmemory-policy/.test(m));
    const store = new RedisStore({ client: client(), prefix, replicaTimeoutMs: 500, onWarning: (m) => warnings.push(m) });
    try {
      const q = await Queue.open<number>({ name, store, durability: 'strict' });
      await q.push(1);
      expect(evictions()).toEqual([]);
      const toReplica = new Redis(replica.url);
      await toReplica.config('SET', 'maxmemory-policy', 'allkeys-lru');
      toReplica.disconnect();
      await failover(async () => undefined);
      // The Cluster client never reconnects as a whole: only its slot map tells of the new primary.
      for (const end = Date.now() + 20_000; Date.now() < end && evictions().length === 0; ) {
        await q.push(2).catch(() => undefined);
        await sleep(50);
      }
      expect(evictions()).toEqual([expect.stringMatching(/maxmemory-policy allkeys-lru/)]);
      // Promoted, the replica has none of its own, and writes are not fsynced (everysec): a strict commit resolved
      // unreplicated would be lost to the next failover; it fails until a replica attaches, and says why.
      await expect(q.push(3)).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/only 0 of 1 replicas confirmed/) });
      expect(warnings).toContainEqual(expect.stringMatching(/had replicas has none connected now/));
      await q.close();
    } finally {
      await store.close();
    }
  }, 60_000);

  for (const [shape, count] of [
    ['the tail segment', 3],
    ['a sealed segment', 10],
  ] as const) {
    it(`a handle that lived through it reads ${shape} again: it takes what is there, and its ack removes only that`, async () => {
      const prefix = `failover-reads-${count}:`;
      const { name, failover } = await shard(prefix);
      const stores = [0, 1].map(() => new RedisStore({ client: client(), prefix, onWarning: () => undefined }));
      try {
        const a = await Queue.open<string>({ name, store: stores[0]!, segmentItems: 10 });
        await a.pushMany(Array.from({ length: 10 }, (_, i) => `a${i}`));
        await (await a.take(10))!.ack();
        // Gone with the failover: pushed after the replica fell behind, read by this handle.
        await failover(() => a.pushMany(Array.from({ length: count }, (_, i) => `a${10 + i}`)));
        await expectReadAgain(a, name, stores[1]!, count);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }, 60_000);
  }
});
