import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { OutboxEventMap } from '../../src/outbox/events.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { failingCommit, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe('Outbox events', () => {
  it("'change', 'drained', 'online' and 'offline' are CustomEvents, as every outbox event", async () => {
    const seen: Record<string, unknown[]> = {};
    for (const type of ['change', 'drained', 'online', 'offline'] as const) {
      r.outbox.addEventListener(type, (event: Event) => (seen[type] ??= []).push(event instanceof CustomEvent ? event.detail : 'a plain Event'));
    }
    await r.outbox.enqueue({ url: '/a' });
    await r.outbox.flush();
    r.outbox.setOnline(false);
    r.outbox.setOnline(true);
    // 'change' comes at the end of the tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual({
      change: expect.arrayContaining([null]),
      drained: [null],
      offline: [{ online: false }],
      online: [{ online: true }],
    });
    expect(new Set(seen.change)).toEqual(new Set([null]));
  });

  it("'change' follows each change of the pending set in this handle: enqueued, retried, sent (a UI redraws on it alone)", async () => {
    const order: string[] = [];
    for (const type of ['enqueue', 'retry', 'sent', 'change'] as const) r.outbox.addEventListener(type, () => order.push(type));
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    await r.outbox.enqueue({ url: '/a' });
    await tick();
    r.server.next({ status: 503 });
    await r.outbox.flush();
    await tick();
    r.clock.advance(600_000);
    await r.outbox.flush();
    await tick();
    expect(order).toEqual(['enqueue', 'change', 'retry', 'change', 'sent', 'change']);
  });

  it("'offline' after a network error and 'online' after the next response say so in their detail", async () => {
    await r.outbox.enqueue({ url: '/a' });
    await r.server.down();
    await r.outbox.flush();
    await r.server.up();
    r.clock.advance(300_000);
    await r.outbox.flush();
    expect(r.events('offline')).toEqual([{ online: false }]);
    expect(r.events('online')).toEqual([{ online: true }]);
  });

  // The stopped loop no longer looked: 'drained' came only at the next flush or start, and after a close never.
  it.each(['stop', 'close'] as const)("'drained' once the last task's request, out as %s() is called, is sent", async (end) => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    let out!: () => void;
    const sending = new Promise<void>((resolve) => (out = resolve));
    await r.reopen({ fetch: async () => (out(), await answered, new Response(null, { status: 204 })) });
    const drained: unknown[] = [];
    r.outbox.addEventListener('drained', (event) => drained.push(event.detail));
    await r.outbox.enqueue({ url: '/last' });
    r.outbox.start();
    await sending;
    const ending = r.outbox[end]();
    answer();
    await ending;
    expect(drained).toEqual([null]);
    // A stop() after the close reads nothing of the closed queues, and says nothing.
    const errors: unknown[] = [];
    r.outbox.addEventListener('error', (event) => errors.push(event.detail.error));
    await r.outbox.close();
    await r.outbox.stop();
    expect(errors).toEqual([]);
  });

  // README: 'drained' is said "as the last task pending goes (sent, dead or removed)". A remove said only 'change'.
  it.each([
    ['never started', async () => {}],
    ['started, the tasks waiting out their retry delays', async () => (r.server.next({ status: 503 }, { status: 503 }), r.outbox.start(), await vi.waitFor(() => expect(r.events('retry')).toHaveLength(2)))],
  ] as const)("'drained' once remove() takes the last pending task (%s), and not while one is left", async (_, before) => {
    const [a, b] = [await r.outbox.enqueue({ url: '/a', group: 'a' }), await r.outbox.enqueue({ url: '/b', group: 'b' })];
    await before();
    expect(await r.outbox.remove([a])).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.events('drained')).toEqual([]);
    expect(await r.outbox.remove([b])).toBe(1);
    await vi.waitFor(() => expect(r.events('drained')).toEqual([null]));
  });

  it("'drained' in a handle that delivers what another handle stored (a service worker, a page's tasks)", async () => {
    const page = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      await page.enqueue({ url: '/a' });
      expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
      expect(r.events('drained')).toEqual([null]);
    } finally {
      await page.close();
    }
  });

  // Before, a flush said 'drained' as it found the queue empty, though a task whose ack seemed to fail (it landed, its
  // reply lost) was still held here for that ack, made again half a second later: its 'sent' came after 'drained'.
  it.each([
    ['one task', {}, 1],
    ["12 tasks, ordering 'none', 4 in flight", { ordering: 'none', concurrency: 4 }, 12],
  ] as const)("'drained' comes after the 'sent' of a task whose ack landed though its reply was lost (%s, a flush)", async (_, options, n) => {
    const { store, arm } = failingCommit('api', true);
    await r.reopen({ store, ...options });
    const order: string[] = [];
    for (const type of ['sent', 'drained'] as const) r.outbox.addEventListener(type, () => order.push(type));
    r.server.next({ status: 200, delayMs: 100 });
    await r.outbox.enqueueMany(Array.from({ length: n }, (_, i) => ({ url: `/${i}` })));
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    arm();
    expect((await flushing).remaining).toBe(0);
    expect(r.events('error')).not.toEqual([]);
    r.clock.advance(500);
    await vi.waitFor(() => expect(order).toEqual([...Array<string>(n).fill('sent'), 'drained']));
    expect(await r.outbox.size()).toBe(0);
  });

  // Before, the newer task of its key found the older one gone as it buried it (superseded): forgotten, the index was
  // empty, and the loop said 'drained' before the ack made again half a second later said the older one sent.
  it("'drained' waits for an ack made again whose task was found gone meanwhile (landed unseen, then superseded)", async () => {
    const { store, arm } = failingCommit('api', true);
    await r.reopen({ store });
    const order: string[] = [];
    for (const type of ['sent', 'drained'] as const) r.outbox.addEventListener(type, (e) => order.push(type === 'sent' ? (e as CustomEvent<{ task: { id: string } }>).detail.task.id : type));
    r.server.next({ status: 200, delayMs: 100 });
    await r.outbox.enqueue({ url: '/old', id: 'old', key: 'k' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    arm();
    await flushing;
    await r.outbox.enqueue({ url: '/new', id: 'new', key: 'k' });
    r.outbox.start();
    await vi.waitFor(() => expect(order).toEqual(['new']));
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.clock.advance(500);
    await vi.waitFor(() => expect(order).toEqual(['new', 'old', 'drained']));
  });

  it('types each detail', () => {
    expectTypeOf<OutboxEventMap['drained']>().toEqualTypeOf<CustomEvent<null>>();
    expectTypeOf<OutboxEventMap['change']>().toEqualTypeOf<CustomEvent<null>>();
    expectTypeOf<OutboxEventMap['online']['detail']>().toEqualTypeOf<{ readonly online: true }>();
    expectTypeOf<OutboxEventMap['offline']['detail']>().toEqualTypeOf<{ readonly online: false }>();
  });
});
