import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { Queue } from '../../src/core/queue.js';
import type { Store } from '../../src/core/store.js';
import { FileStore } from '../../src/fs.js';
import { RedisStore } from '../../src/redis.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { rig, type Rig } from './helpers.js';

const onRedis = process.env.SLUICE_OUTBOX_STORE === 'redis';
let r: Rig;
let dir: string;
let redisStores: RedisStore[] = [];
let places = 0;
beforeEach(async () => {
  r = await rig();
  dir = mkdtempSync(join(tmpdir(), 'sluice-open-queues-'));
});
afterEach(async () => {
  await r.teardown();
  await Promise.all(redisStores.map((store) => store.close()));
  redisStores = [];
  rmSync(dir, { recursive: true, force: true });
});

/** The stores that can tell what exists: a MemoryStore and a FileStore, or (the 'outbox-on-redis' project) a RedisStore. */
function stores(): [string, () => Store][] {
  if (onRedis) {
    const redis = () => {
      // A prefix per test: every test starts from no queues on the one server.
      const store = new RedisStore({ url: inject('sluiceRedisUrl'), prefix: `open-queues.${process.pid}.${places++}:`, onWarning: () => undefined });
      redisStores.push(store);
      return store;
    };
    return [['RedisStore', redis]];
  }
  return [
    ['MemoryStore', () => new MemoryStore()],
    ['FileStore', () => new FileStore({ dir })],
  ];
}

/** The error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

describe.each(stores())("a Queue opened on an outbox's queue (%s)", (_, make) => {
  it("is refused with ERR_INCOMPATIBLE_STORE: nothing is taken, and the outbox's tasks are still there and delivered after", async () => {
    const store = make();
    const outbox = await r.open({ name: 'uploads', store });
    const at = r.clock.now() + 10_000;
    await outbox.enqueueMany([{ url: '/upload', id: 'a', notBefore: at }, { url: '/upload', id: 'b', notBefore: at }]);
    for (const partitions of [1, 2]) {
      const error = await rejection(Queue.open({ name: 'uploads', store, partitions }));
      expect(error.code).toBe('ERR_INCOMPATIBLE_STORE');
      expect(error.message).toContain(`Queue "uploads" is an outbox's queue (its tasks; its dead letters are in "uploads.dead"): its items are HTTP tasks the outbox delivers`);
      expect(error.message).toContain("Open it as `Outbox.open({ name: 'uploads' })`, or give the Queue another name");
    }
    // Nothing made: the refused open of two partitions made no second one.
    expect(await store.exists!('uploads.p1')).toBe(false);
    expect(await outbox.size()).toBe(2);
    r.clock.advance(10_000);
    expect(await outbox.flush()).toMatchObject({ sent: 2, dead: 0, remaining: 0 });
    expect(r.server.received.map((q) => q.key).sort()).toEqual(['a', 'b']);
    expect(r.events('dead')).toEqual([]);
  });

  it('is refused on a partitioned outbox, whose first partition is stored under its name', async () => {
    const store = make();
    const outbox = await r.open({ name: 'spread', store, partitions: 3 });
    await outbox.enqueue({ url: '/x', id: 'a', notBefore: r.clock.now() + 10_000 });
    for (const partitions of [1, 3]) expect((await rejection(Queue.open({ name: 'spread', store, partitions }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    expect(await outbox.size()).toBe(1);
  });

  it('and the outbox reopened, with both its queues there, opens with its tasks', async () => {
    const store = make();
    await (await r.open({ name: 'uploads', store })).enqueue({ url: '/upload', id: 'a', notBefore: r.clock.now() + 10_000 });
    await r.outbox.close();
    expect([await store.exists!('uploads'), await store.exists!('uploads.dead')]).toEqual([true, true]);
    const again = await r.open({ name: 'uploads', store });
    expect((await again.list()).map((t) => t.id)).toEqual(['a']);
    expect((await rejection(Queue.open({ name: 'uploads', store }))).code).toBe('ERR_INCOMPATIBLE_STORE');
  });

  it("a Queue whose name's .dead does not exist opens as before (one named like an outbox's queue of another store, too)", async () => {
    const store = make();
    await r.open({ name: 'uploads', store: new MemoryStore() });
    await r.open({ name: 'elsewhere', store });
    expect((await rejection(Queue.open({ name: 'elsewhere', store }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    const queue = await Queue.open<number>({ name: 'uploads', store, partitions: 2 });
    await queue.push(1);
    expect(await queue.shift()).toBe(1);
    await queue.close();
    // A Queue named `<b>.dead` opens where no `<b>` is (and its own `.dead` does not exist).
    await (await Queue.open({ name: 'jobs.dead', store })).close();
  });
});

describe.each(stores())("a Queue opened on an outbox's dead letters (%s)", (_, make) => {
  it('is refused with ERR_INCOMPATIBLE_STORE, the dead letters kept', async () => {
    const store = make();
    r.server.next({ status: 400 });
    const outbox = await r.open({ name: 'uploads', store });
    await outbox.enqueue({ url: '/gone', id: 'a' });
    expect(await outbox.flush()).toMatchObject({ dead: 1, remaining: 0 });
    for (const partitions of [1, 2]) {
      const error = await rejection(Queue.open({ name: 'uploads.dead', store, partitions }));
      expect(error.code).toBe('ERR_INCOMPATIBLE_STORE');
      expect(error.message).toContain('Queue "uploads.dead" is the name under which an outbox "uploads" keeps its dead letters, and "uploads" exists');
      expect(error.message).toContain('`npx sluice dead uploads`');
    }
    expect(await store.exists!('uploads.dead.p1')).toBe(false);
    expect((await outbox.dead.list()).map((d) => d.task.id)).toEqual(['a']);
  });

  it("is refused beside a Queue too (it would make that Queue look like an outbox's), and nothing is made", async () => {
    const store = make();
    await (await Queue.open({ name: 'jobs', store })).close();
    expect((await rejection(Queue.open({ name: 'jobs.dead', store }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    expect(await store.exists!('jobs.dead')).toBe(false);
    // The Queue still opens under its name.
    await (await Queue.open({ name: 'jobs', store })).close();
  });
});

// Not on a RedisStore: there, queues an earlier sluice opened may have left no trace (an outbox's dead letters that
// never held one), so an outbox is not refused on a queue without its dead letters (see test/stores/redis/exists.test.ts).
describe.each(stores().filter(([name]) => name !== 'RedisStore'))('an Outbox opened on a Queue (%s)', (_, make) => {
  it('made first and drained: refused with ERR_INCOMPATIBLE_STORE, and nothing made (no <name>.dead)', async () => {
    const store = make();
    const queue = await Queue.open<string>({ name: 'jobs', store });
    await queue.push('resize');
    expect(await queue.shift()).toBe('resize');
    const error = await rejection(r.open({ name: 'jobs', store }));
    expect(error.code).toBe('ERR_INCOMPATIBLE_STORE');
    expect(error.message).toContain('Outbox "jobs" cannot open: the store holds a queue "jobs" but not "jobs.dead"');
    expect(await store.exists!('jobs.dead')).toBe(false);
    // The Queue goes on.
    await queue.push('crop');
    expect(await queue.shift()).toBe('crop');
    await queue.close();
  });

  it('made first, empty, with the Queue open: refused, and then a Queue of that name still opens', async () => {
    const store = make();
    const queue = await Queue.open({ name: 'jobs', store });
    expect((await rejection(r.open({ name: 'jobs', store, partitions: 2 }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    expect([await store.exists!('jobs.dead'), await store.exists!('jobs.p1')]).toEqual([false, false]);
    await queue.close();
    await (await Queue.open({ name: 'jobs', store })).close();
  });

  it('opens its dead letters first: an open that failed between its two queues leaves <name>.dead only, and the next open goes on', async () => {
    const base = make();
    let failing = true;
    // The queue `name` cannot be opened (a disk gone for a moment): the dead letters were opened before it.
    const store: Store = {
      open: (name, hints) => (failing && name === 'api2' ? Promise.reject(new Error('the disk is gone')) : base.open(name, hints)),
      exists: (name) => base.exists!(name),
      ...(base.scope !== undefined && { scope: base.scope }),
    };
    expect((await rejection(r.open({ name: 'api2', store }))).code).toBe('ERR_STORAGE');
    expect([await base.exists!('api2.dead'), await base.exists!('api2')]).toEqual([true, false]);
    // Half made, it is already an outbox's: a Queue is refused there.
    expect((await rejection(Queue.open({ name: 'api2', store: base }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    failing = false;
    const outbox = await r.open({ name: 'api2', store });
    expect(await outbox.flush()).toMatchObject({ sent: 0 });
    await outbox.enqueue({ url: '/x', id: 'a' });
    expect(await outbox.flush()).toMatchObject({ sent: 1 });
  });
});

describe('where the store cannot tell what exists (no Store.exists)', () => {
  it('neither open is refused: a user\'s store is left unguarded', async () => {
    const base = new MemoryStore();
    const store: Store = { open: (name) => base.open(name) };
    const outbox = await r.open({ name: 'mine', store });
    await outbox.enqueue({ url: '/x', id: 'a', notBefore: r.clock.now() + 10_000 });
    const queue = await Queue.open({ name: 'mine', store });
    expect(await queue.size()).toBe(1);
    await queue.close();
    await (await Queue.open({ name: 'other', store })).close();
    await (await r.open({ name: 'other', store })).close();
    // The same queues, on the store that can tell.
    expect((await rejection(Queue.open({ name: 'mine', store: base }))).code).toBe('ERR_INCOMPATIBLE_STORE');
  });
});
