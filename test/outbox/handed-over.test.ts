import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { next, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe("a 202 with 'Sluice-Queued' (a service worker's outbox took the request)", () => {
  it("is not sent: the task leaves this outbox as 'handed-over', with the worker's task id", async () => {
    r.server.next({ status: 202, headers: { 'sluice-queued': 'worker-task-1' } });
    const id = await r.outbox.enqueue({ url: '/x', body: { n: 1 } });
    const heard = next<{ task: { id: string }; queuedAs: string; attempts: number }>(r.outbox, 'handed-over');
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, handedOver: 1, dead: 0, retried: 0, remaining: 0 });
    expect(await heard).toMatchObject({ task: { id }, queuedAs: 'worker-task-1', attempts: 1 });
    expect(r.events('sent')).toEqual([]);
    expect(await r.outbox.dead.list()).toEqual([]);
  });

  it('a plain 202 is sent, as any 2xx', async () => {
    r.server.next({ status: 202 });
    await r.outbox.enqueue({ url: '/x' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, handedOver: 0 });
  });

  it("the next task of the group goes on, and other handles hear 'handed-over'", async () => {
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      const relayed = next<{ remote: boolean; queuedAs: string }>(other, 'handed-over');
      r.server.plan('a', [{ status: 202, headers: { 'sluice-queued': 'a' } }]);
      await r.outbox.enqueueMany([{ url: '/a', id: 'a', group: 'g' }, { url: '/b', id: 'b', group: 'g' }]);
      expect(await r.outbox.flush()).toMatchObject({ sent: 1, handedOver: 1 });
      expect(await relayed).toMatchObject({ remote: true, queuedAs: 'a' });
    } finally {
      await other.close();
    }
  });

  it("end to end in Node: a page's outbox whose transport is a worker's outbox.fetch() hands the task over", async () => {
    // The worker's outbox (its own store) answers for the network; the server is down, so it stores the request.
    const worker = await Outbox.open({ name: 'sw', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url });
    const page = await Outbox.open({ name: 'page', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url, fetch: (input, init) => worker.fetch(new Request(input, init)) });
    try {
      await r.server.down();
      const id = await page.enqueue({ url: '/notes', body: { text: 'hi' } });
      const heard = next<{ queuedAs: string }>(page, 'handed-over');
      expect(await page.flush()).toMatchObject({ sent: 0, handedOver: 1, remaining: 0 });
      expect((await heard).queuedAs).toBe(id);
      expect(await worker.size()).toBe(1);
      await r.server.up();
      r.clock.advance(300_000);
      expect(await worker.flush({ reachable: true })).toMatchObject({ sent: 1 });
      expect(r.server.delivered.map((x) => [x.path, x.key, x.body.toString()])).toEqual([['/notes', id, '{"text":"hi"}']]);
    } finally {
      await page.close();
      await worker.close();
    }
  });

  it('a page sending through the fetch handler of a worker on the same outbox: its task goes to the network, never stored again', async () => {
    // The worker found the task's group holding the very task the request carried, stored a copy under its id and
    // answered 202; the page took the copy back as handed over and sent it through again, for as long as it ran.
    const store = new MemoryStore();
    const worker = await Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url });
    const page = await Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url, fetch: (input, init) => worker.fetch(new Request(input, init)) });
    try {
      const id = await page.enqueue({ url: '/notes', body: { text: 'hi' } });
      expect(await page.flush()).toMatchObject({ sent: 1, handedOver: 0, remaining: 0 });
      expect(r.server.delivered.map((x) => [x.path, x.key])).toEqual([['/notes', id]]);
      expect(await worker.size()).toBe(0);
      // The network failing, the worker stores no copy: the page hears a network error, and its task stays its own.
      await r.server.down();
      const again = await page.enqueue({ url: '/notes', body: { text: 'again' } });
      expect(await page.flush()).toMatchObject({ sent: 0, handedOver: 0, remaining: 1 });
      expect((await worker.list()).map((t) => t.id)).toEqual([again]);
      await r.server.up();
      r.clock.advance(300_000);
      expect(await page.flush({ reachable: true })).toMatchObject({ sent: 1, remaining: 0 });
      expect(r.server.delivered.map((x) => x.key)).toEqual([id, again]);
    } finally {
      await page.close();
      await worker.close();
    }
  });
});
