import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PARTITION_SPAN } from '../../src/core/ids.js';
import { hash } from '../../src/core/partitioned.js';
import { Queue } from '../../src/core/queue.js';
import type { Store } from '../../src/core/store.js';
import { FileStore } from '../../src/fs.js';
import type { Outbox } from '../../src/outbox/outbox.js';
import { storedNothing } from '../../src/outbox/enqueue.js';
import { PendingIndex } from '../../src/outbox/pending.js';
import { pushPlaced } from '../../src/outbox/placement.js';
import type { HttpTask, StoredTask } from '../../src/outbox/task.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { rig, type Rig } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

let r: Rig;
let dir: string;
let fileStore: FileStore | undefined;
beforeEach(async () => {
  r = await rig();
  dir = mkdtempSync(join(tmpdir(), 'sluice-outbox-partitions-'));
});
afterEach(async () => {
  await r.teardown();
  fileStore = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The rig's store (a MemoryStore, or a RedisStore in the 'outbox-on-redis' project), and a FileStore in a temp dir. */
const stores: [string, () => Store][] = [
  ['the rig store', () => r.store],
  ['FileStore', () => (fileStore ??= new FileStore({ dir }))],
];

/** A group name whose tasks land in partition `p` of `k`. */
function groupIn(p: number, k: number, prefix = 'g'): string {
  for (let i = 0; ; i++) if (hash(`${prefix}${i}`) % k === p) return `${prefix}${i}`;
}

/** Flushes until nothing is left (retries at once: their delay is 0). */
async function drain(...outboxes: Outbox[]): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const results = await Promise.all(outboxes.map((o) => o.flush()));
    if (results.every((x) => x.remaining === 0)) return;
  }
  throw new Error('the outbox did not drain');
}

/** Paths delivered (2xx), per group ('/<group>/<n>'), in the order the server answered them. */
function deliveredByGroup(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { path } of r.server.delivered) {
    const [, group, n] = path.split('/');
    if (!out.has(group!)) out.set(group!, []);
    out.get(group!)!.push(Number(n));
  }
  return out;
}

/** Each task answered 2xx once, by Idempotency-Key. */
function deliveredOnce(count: number): void {
  const keys = r.server.delivered.map((x) => x.key);
  expect(keys).toHaveLength(count);
  expect(new Set(keys).size).toBe(count);
}

const tasks = (group: string | undefined, from: number, to: number): HttpTask[] =>
  Array.from({ length: to - from }, (_, i) => ({ url: `/${group ?? 'none'}/${from + i}`, ...(group !== undefined && { group }) }));

const retryAtOnce = { initialDelayMs: 0, maxDelayMs: 0 };

describe('OutboxOptions.partitions', () => {
  it('refuses what is not an integer from 1 to 8192, naming the option', async () => {
    for (const partitions of [0, 1.5, -1, 8193, '4', NaN]) {
      await expect(r.open({ partitions: partitions as number })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`partitions`') });
    }
    // Partition names (<name>.p<i>) must fit in a queue name too.
    await expect(r.open({ name: 'n'.repeat(123), partitions: 8192 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`partitions`') });
  });

  for (const [label, store] of stores) {
    describe(`on ${label}`, () => {
      const open = (extra: Parameters<Rig['open']>[0] = {}) => r.open({ partitions: 4, retry: retryAtOnce, store: store(), ...extra });

      it("ordering 'group': keeps each group's order (the ungrouped tasks' too) with concurrency 4 and failures, each task sent once", async () => {
        const first = await open({ concurrency: 4 });
        const groups = ['a', 'b', 'c', 'd', 'e', 'f'];
        // Each call holds a task of every group, so it spans the partitions.
        for (let n = 0; n < 10; n++) await first.enqueueMany([...groups, undefined].flatMap((g) => tasks(g, n, n + 1)));
        // A restart: the index is read back from the partitions, one after the other.
        await first.close();
        const outbox = await open({ concurrency: 4 });
        r.server.script(({ path }) => (Number(path.split('/')[2]) % 3 === 1 && r.server.received.filter((x) => x.path === path).length === 1 ? { status: 503 } : undefined));
        await drain(outbox);
        deliveredOnce(70);
        expect(deliveredByGroup().size).toBe(7);
        for (const [, sent] of deliveredByGroup()) expect(sent).toEqual([...Array(10).keys()]);
      });

      it("ordering 'fifo': one order over every task, whatever its group", async () => {
        const outbox = await open({ ordering: 'fifo', concurrency: 3 });
        await outbox.enqueueMany(['a', 'b', 'c'].flatMap((g, i) => tasks(g, i * 4, i * 4 + 4)));
        r.server.next({ status: 503 });
        await drain(outbox);
        deliveredOnce(12);
        expect(r.server.delivered.map((x) => Number(x.path.split('/')[2]))).toEqual([...Array(12).keys()]);
      });

      it("ordering 'none': tasks go to the partitions in turn, each sent once", async () => {
        const outbox = await open({ ordering: 'none', concurrency: 4 });
        await outbox.enqueueMany(tasks(undefined, 0, 4));
        await outbox.enqueueMany(tasks(undefined, 4, 8));
        await outbox.enqueue({ url: '/none/8' });
        await drain(outbox);
        deliveredOnce(9);
      });

      it('two handles on one partitioned outbox, both delivering: each task sent once, each group in order', async () => {
        const a = await open({ concurrency: 2 });
        const b = await open({ concurrency: 3 });
        const groups = ['a', 'b', 'c', 'd', 'e'];
        for (let round = 0; round < 4; round++) {
          await a.enqueueMany(groups.flatMap((g) => tasks(g, round * 4, round * 4 + 2)));
          await b.enqueueMany(groups.flatMap((g) => tasks(g, round * 4 + 2, round * 4 + 4)));
        }
        r.server.script(({ path }) => (Number(path.split('/')[2]) % 5 === 2 && r.server.received.filter((x) => x.path === path).length === 1 ? { status: 503 } : undefined));
        await drain(a, b);
        deliveredOnce(80);
        for (const [, sent] of deliveredByGroup()) expect(sent).toEqual([...Array(16).keys()]);
      });

      it("a handle's flush sends what another handle pushed to a partition before the ones it knows", async () => {
        const a = await open();
        await a.enqueue({ url: '/late/0', group: groupIn(3, 4) });
        const b = await open();
        await b.enqueue({ url: '/early/0', group: groupIn(0, 4) });
        expect(await a.flush()).toMatchObject({ sent: 2, remaining: 0 });
      });

      it('.list(), .remove(), .size() and dead letters work across partitions; entry ids carry the partition', async () => {
        const outbox = await open();
        const groups = [0, 1, 2, 3].map((p) => groupIn(p, 4));
        const ids = await outbox.enqueueMany(groups.flatMap((g) => tasks(g, 0, 2)));
        expect(await outbox.size()).toBe(8);
        expect((await outbox.list()).map((t) => t.id).sort()).toEqual([...ids].sort());
        expect((await outbox.list({ group: groups[3] })).map((t) => t.id)).toEqual(ids.slice(6, 8));
        const queue = await Queue.open<StoredTask>({ ...outboxQueue, name: 'api', store: store(), partitions: 4 });
        try {
          const entries = await queue.list();
          expect(new Set(entries.map((e) => Math.floor(Number(e.id) / PARTITION_SPAN)))).toEqual(new Set([0, 1, 2, 3]));
        } finally {
          await queue.close();
        }
        expect(await outbox.remove([ids[6]!, ids[7]!])).toBe(2);
        r.server.plan(ids[0]!, [{ status: 400 }]);
        expect(await outbox.flush()).toMatchObject({ sent: 5, dead: 1, remaining: 0 });
        expect((await outbox.dead.list()).map((d) => d.task.id)).toEqual([ids[0]]);
        expect(await outbox.dead.retry()).toBe(1);
        expect(await outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
        deliveredOnce(6);
      });

      it('reopening with another count is refused while tasks are pending, and changes it once empty', async () => {
        const outbox = await open();
        await outbox.enqueue({ url: '/x/0', group: 'x' });
        await outbox.close();
        await expect(open({ partitions: 2 })).rejects.toMatchObject({
          code: 'ERR_INVALID_OPTION',
          message: 'Queue "api" was made with partitions: 4 and holds 1 item: open it with partitions: 4, or drain it first.',
        });
        const again = await open();
        await drain(again);
        await again.close();
        const two = await open({ partitions: 2 });
        await two.enqueue({ url: '/x/1', group: 'x' });
        await drain(two);
        deliveredOnce(2);
      });
    });
  }
});

describe('PendingIndex across partitions', () => {
  it("weighs lane heads by their place in their partition, so a later partition's lanes are not always behind", () => {
    const index = new PendingIndex('group', 4);
    const task = (id: string, group: string): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt: 0, group });
    for (let i = 0; i < 3; i++) index.add(i, task(`a${i}`, 'a'), 0);
    index.add(3 * PARTITION_SPAN, task('b0', 'b'), 0);
    const [a0] = index.take(1, 0);
    index.remove(a0!);
    expect(index.take(1, 0).map((p) => p.id)).toEqual(['b0']);
  });
});

describe('PendingIndex: a partition whose numbers ran ahead', () => {
  it('is not held behind tasks of other partitions stored after its own', () => {
    const index = new PendingIndex('group', 2);
    const task = (id: string, group: string, createdAt: number): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt, group });
    // Partition 0 took 600 tasks before (all sent): its next one is number 600, stored first.
    index.add(600, task('old', 'a', 1_000), 0);
    // Partition 1 is at number 0: ten tasks stored after it, each in a group of its own.
    for (let i = 0; i < 10; i++) index.add(PARTITION_SPAN + i, task(`new${i}`, `b${i}`, 2_000 + i), 0);
    expect(index.take(1, 0).map((p) => p.id)).toEqual(['old']);
  });
});

describe('pushPlaced', () => {
  it('keeps a lane in one partition and, when a later commit fails, removes what the earlier ones stored', async () => {
    const queue = await Queue.open<StoredTask>({ name: 'q', store: new MemoryStore(), partitions: 4 });
    try {
      const task = (id: string, group: string): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt: 0, group });
      const [g0, g1] = [groupIn(0, 4), groupIn(1, 4)];
      const ids = await pushPlaced(queue, [task('a', g0), task('b', g1), task('c', g0)], 'group');
      expect(ids.map((id) => Math.floor(Number(id) / PARTITION_SPAN))).toEqual([0, 1, 0]);
      const pushMany = queue.pushMany.bind(queue);
      let calls = 0;
      queue.pushMany = async (items, options) => {
        if (++calls === 2) throw Object.assign(new Error('over quota'), { code: 'ERR_QUOTA_EXCEEDED' });
        return pushMany(items, options);
      };
      await expect(pushPlaced(queue, [task('d', g0), task('e', g1)], 'group')).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
      expect((await queue.list()).map((e) => e.value.id)).toEqual(['a', 'c', 'b']);
    } finally {
      await queue.close();
    }
  });

  it("names the tasks left stored when their removal fails too, never with the quota's code, which says nothing was stored", async () => {
    // At a full quota the removal, a write, is refused as well: the outbox took "stored nothing" at its word, deleted
    // the bodies, and the tasks left were sent all the same (twice, once the app enqueued them again).
    const queue = await Queue.open<StoredTask>({ name: 'q', store: new MemoryStore(), partitions: 4 });
    try {
      const task = (id: string, group: string): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt: 0, group });
      const [g0, g1] = [groupIn(0, 4), groupIn(1, 4)];
      const full = () => Promise.reject(Object.assign(new Error('over quota'), { code: 'ERR_QUOTA_EXCEEDED' }));
      const pushMany = queue.pushMany.bind(queue);
      let calls = 0;
      queue.pushMany = async (items, options) => (++calls === 2 ? full() : pushMany(items, options));
      queue.remove = full;
      const refused = await pushPlaced(queue, [task('d', g0), task('e', g1), task('f', g0)], 'group').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'ERR_STORAGE', cause: { code: 'ERR_QUOTA_EXCEEDED' } });
      expect((refused as Error).message).toMatch(/2 of the 3 tasks .*task ids d, f\)/);
      expect(storedNothing(refused)).toBe(false);
      expect((await queue.list()).map((e) => e.value.id)).toEqual(['d', 'f']);
    } finally {
      await queue.close();
    }
  });
});
