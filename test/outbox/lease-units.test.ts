import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import { newRun } from '../../src/outbox/tally.js';
import { giveBack, leaseUnits, type LeaseContext } from '../../src/outbox/lease-units.js';
import { resolveOutboxOptions } from '../../src/outbox/options.js';
import { PendingIndex } from '../../src/outbox/pending.js';
import type { StoredTask } from '../../src/outbox/task.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FaultyStore } from '../support/faulty-store.js';
import { rig, type Rig } from './helpers.js';

let r: Rig;
let store: FaultyStore;
beforeEach(async () => {
  r = await rig();
  store = new FaultyStore(new MemoryStore());
  await r.reopen({ store, ordering: 'none', concurrency: 1 });
});
afterEach(() => r.teardown());

describe('tasks taken and given back untried, whose release fails', () => {
  it('are told in an error event, and go once the lease ends: never held by the handle for good', async () => {
    // The first request hangs: the tasks taken ahead of it wait in the buffer, leased.
    r.server.next({ hang: true });
    await r.outbox.enqueueMany([1, 2, 3, 4].map((n) => ({ url: `/${n}`, id: `t${n}` })));
    r.outbox.start();
    await r.server.waitFor(1);
    // Offline: what was taken ahead goes back, and that release fails.
    store.fail('commit', { storage: 'api' });
    r.outbox.setOnline(false);
    await vi.waitFor(() => expect(r.events('error')).toMatchObject([{ error: { message: expect.stringMatching(/commit failed/) } }]));
    r.outbox.setOnline(true);
    // The hung request times out (30 s) and is retried; the lease (timeoutMs + 60 s) ends for the others.
    for (let i = 0; i < 20 && (await r.outbox.size()) > 0; i++) {
      r.clock.advance(10_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await vi.waitFor(async () => expect(await r.outbox.size()).toBe(0));
    expect(new Set(r.server.received.map((x) => x.key))).toEqual(new Set(['t1', 't2', 't3', 't4']));
    expect(r.events('error')).toHaveLength(1);
  });
});

describe('leaseUnits()', () => {
  it('when the store fails as the take is looked at, gives back what it took and frees the rest: nothing held for good', async () => {
    const queue = await Queue.open<StoredTask>({ name: 'q', store: new MemoryStore() });
    const index = new PendingIndex('none');
    const task = (id: string): StoredTask => ({ id, url: `http://127.0.0.1/${id}`, method: 'POST', headers: {}, createdAt: 0 }) as StoredTask;
    const ids = await queue.pushMany([task('a'), task('b')]);
    for (const [i, id] of ids.entries()) index.add(Number(id), task(i ? 'b' : 'a'), 0);
    // One the index knows that another handle sent meanwhile: the take does not get it, and looks where it went.
    index.add(Number(ids[1]) + 1, task('gone'), 0);
    const chosen = index.take(3, 0);
    expect(chosen.map((p) => p.state)).toEqual(['busy', 'busy', 'busy']);
    const list = queue.list.bind(queue);
    queue.list = () => Promise.reject(new Error('the disk is gone'));
    const given: string[] = [];
    const c: LeaseContext = {
      options: resolveOutboxOptions({ name: 'q', ordering: 'none' }),
      queue,
      index,
      batchFit: undefined,
      giveBack: async (entries, lease) => {
        given.push(...entries.map((e) => e.value.id));
        await giveBack({ index, coordination: { post: () => undefined } as never, emit: () => undefined, options: resolveOutboxOptions({ name: 'q', ordering: 'none' }), kick: () => undefined }, entries, lease);
      },
      buried: async () => new Set(),
    };
    await expect(leaseUnits(c, chosen, newRun(false))).rejects.toThrow(/disk is gone/);
    expect(given.sort()).toEqual(['a', 'b']);
    expect(chosen.map((p) => p.state)).toEqual(['ready', 'ready', 'ready']);
    expect((await list()).map((e) => e.state)).toEqual(['ready', 'ready']);
    await queue.close();
  });
});
