import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { Outbox, Queue, SluiceError } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { describeRedis } from '../../support/redis-suite.js';

/** The error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

/** Never called: every task waits an hour, and a send would fail the test. */
const fetch = () => Promise.reject(new Error('no task is due'));

describeRedis('RedisStore.exists', (server) => {
  let n = 0;
  let stores: RedisStore[] = [];
  let admin: Redis | undefined;
  /** A store as another process would make it: a client of its own. */
  const store = (prefix: string) => {
    const s = new RedisStore({ url: server().url, prefix, onWarning: () => undefined });
    stores.push(s);
    return s;
  };
  const fresh = () => {
    admin = new Redis(server().url);
    return `e${n++}:`;
  };
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
    admin?.disconnect();
  });

  // Before, a RedisStore had no `exists`: the Queue opened, took the outbox's task as an item, and its ack removed it
  // unsent, with no event and no dead letter.
  it("a Queue opened on an outbox's name is refused with ERR_INCOMPATIBLE_STORE, from another process too: the outbox's task is still there", async () => {
    const prefix = fresh();
    const outbox = await Outbox.open({ name: 'x', store: store(prefix), fetch });
    await outbox.enqueue({ url: 'https://api.example/upload', id: 'a', notBefore: Date.now() + 3_600_000 });
    const token = await admin!.get(`${prefix}{x}:v`);
    // x.dead never took a letter: the mark its open left is all there is of it.
    expect(await admin!.exists(`${prefix}{x.dead}:v`, `${prefix}{x.dead}:m`, `${prefix}{x.dead}:l`)).toBe(0);
    const other = store(prefix);
    for (const partitions of [1, 2]) {
      const error = await rejection(Queue.open({ name: 'x', store: other, partitions }));
      expect(error.code).toBe('ERR_INCOMPATIBLE_STORE');
      expect(error.message).toContain(`Queue "x" is an outbox's queue`);
    }
    expect((await rejection(Queue.open({ name: 'x.dead', store: other }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    expect(await admin!.get(`${prefix}{x}:v`)).toBe(token);
    expect(await other.exists('x.p1')).toBe(false);
    expect((await outbox.list()).map((task) => task.id)).toEqual(['a']);
    await outbox.close();
  });

  it('an outbox an earlier sluice made, its dead letters never written (no key of them left), opens after the upgrade with its task', async () => {
    const prefix = fresh();
    const outbox = await Outbox.open({ name: 'x', store: store(prefix), fetch });
    await outbox.enqueue({ url: 'https://api.example/upload', id: 'a', notBefore: Date.now() + 3_600_000 });
    await outbox.close();
    // As an earlier sluice left it once its handles were gone a day: `x` holds the task, `x.dead` no key at all.
    await admin!.del(`${prefix}{x.dead}:o`, `${prefix}{x.dead}:j`);
    const other = store(prefix);
    expect([await other.exists('x.dead'), await other.exists('x')]).toEqual([false, true]);
    // Refused as a Queue's, the outbox would never open again, its tasks held in it.
    const again = await Outbox.open({ name: 'x', store: other, fetch });
    expect((await again.list()).map((task) => task.id)).toEqual(['a']);
    // Its dead letters are marked now: a Queue is refused on its name from then on.
    expect((await rejection(Queue.open({ name: 'x', store: store(prefix) }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    await again.close();
  });

  it('is true once a queue was opened, on any client of the server under that prefix, for good; false for a name never opened, which it makes nothing of', async () => {
    const prefix = fresh();
    const a = store(prefix);
    expect(await a.exists('q')).toBe(false);
    await (await a.open('q')).close();
    // Its beats' record expires a day after: the mark stays.
    await admin!.del(`${prefix}{q}:j`);
    expect(await admin!.keys(`${prefix}*`)).toEqual([`${prefix}{q}:o`]);
    expect(await admin!.pttl(`${prefix}{q}:o`)).toBe(-1);
    const b = store(prefix);
    expect([await b.exists('q'), await b.exists('never'), await b.exists('q.dead')]).toEqual([true, false, false]);
    expect(await admin!.keys(`${prefix}*`)).toEqual([`${prefix}{q}:o`]);
    // Another prefix is another store's.
    expect(await store(`other.${prefix}`).exists('q')).toBe(false);
  });

  it('a queue made by an earlier version, which left no mark, exists by its keys', async () => {
    const prefix = fresh();
    const q = await Queue.open<number>({ name: 'old', store: store(prefix) });
    await q.push(1);
    await q.close();
    await admin!.del(`${prefix}{old}:o`, `${prefix}{old}:j`);
    // Each of its token, metadata and list of segments alone, as a queue evicted in part may hold.
    const kinds = ['v', 'm', 'l'];
    const held = await Promise.all(kinds.map((kind) => admin!.dumpBuffer(`${prefix}{old}:${kind}`)));
    for (const [i, kind] of kinds.entries()) {
      await admin!.del(...kinds.map((k) => `${prefix}{old}:${k}`));
      expect(await store(prefix).exists('old')).toBe(false);
      await admin!.restore(`${prefix}{old}:${kind}`, 0, held[i]!);
      expect(await store(prefix).exists('old'), kind).toBe(true);
    }
  });

  it('at maxmemory (noeviction) an open marks the queue all the same: a consumer opens there to drain it', async () => {
    const prefix = fresh();
    const s = store(prefix);
    await admin!.config('SET', 'maxmemory', '1');
    try {
      expect(await admin!.set(`${prefix}probe`, '1').catch((e: Error) => e.message)).toMatch(/^OOM/);
      await (await s.open('full')).close();
    } finally {
      await admin!.config('SET', 'maxmemory', '0');
    }
    expect(await store(prefix).exists('full')).toBe(true);
  });

  it('leaves no connection behind: a process that only asked exits by itself', async () => {
    const prefix = fresh();
    const clients = async () => String(await admin!.client('LIST')).split('\n').filter((line) => line.trim()).length;
    const before = await clients();
    const s = store(prefix);
    expect(await s.exists('q')).toBe(false);
    // Kept for an open that follows at once, then let go.
    const until = Date.now() + 5000;
    while ((await clients()) > before && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await clients()).toBe(before);
    // And made again by the next call.
    expect(await s.exists('q')).toBe(false);
  });
});
