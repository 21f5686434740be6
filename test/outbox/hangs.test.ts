import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { silentServer } from './fault-server.js';
import { rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig({ timeoutMs: 5000 });
});
afterEach(() => r.teardown());

/** Resolves true if `promise` settles within `ms` of real time, false otherwise. */
const within = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true, () => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

/** Lets the I/O of a request in flight happen (the fake clock does not move meanwhile). */
const io = () => new Promise((resolve) => setTimeout(resolve, 50));

/**
 * Whether `promise` settles within `ms` of real time while the fake clock moves on a step at a time, with I/O between
 * steps: a timer armed after any one step (a response late on a loaded machine) still comes due.
 */
async function settlesTicking(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  const until = performance.now() + ms;
  while (!settled && performance.now() < until) {
    r.clock.advance(100);
    await io();
  }
  return settled;
}

describe('timeoutMs bounds the whole attempt', () => {
  it('a 200 whose body stalls is not sent: at the limit the attempt is aborted and retried', async () => {
    r.server.next({ status: 200, stallBody: 'half a bo' });
    const id = await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    await io();
    expect(r.events('sent')).toEqual([]);
    r.clock.advance(5000);
    expect(await flushing).toMatchObject({ sent: 0, retried: 1, remaining: 1 });
    expect(r.events('sent')).toEqual([]);
    expect(r.events('retry')).toMatchObject([{ task: { id }, error: expect.stringMatching(/5000 ms/) }]);
    expect(r.outbox.online).toBe(true);
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.events('sent')).toMatchObject([{ task: { id }, attempts: 2 }]);
  });

  it("a 'sent' listener gets the whole body, read before the verdict, whenever it reads it", async () => {
    r.server.next({ status: 201, body: '{"id":42}' });
    await r.outbox.enqueue({ url: '/x' });
    const responses: Response[] = [];
    r.outbox.addEventListener('sent', (e) => responses.push(e.detail.response!));
    await r.outbox.flush();
    await io();
    expect(responses[0]!.status).toBe(201);
    expect(await responses[0]!.json()).toEqual({ id: 42 });
  });

  it('a 500 whose body stalls is retried, and the flush still settles at the limit', async () => {
    r.server.next({ status: 500, stallBody: 'x' });
    await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    await io();
    r.clock.advance(5000);
    expect(await within(flushing, 2000)).toBe(true);
    expect(await flushing).toMatchObject({ retried: 1 });
  });

  it.each([
    ['a headers() provider', { headers: () => new Promise<Record<string, string>>(() => undefined) }],
    ['an onBeforeSend', { onBeforeSend: () => new Promise<never>(() => undefined) }],
  ] as const)('%s that never resolves: the attempt times out (a retry), nothing is sent, the outbox stays online', async (_, never) => {
    await r.reopen(never);
    await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await io();
    r.clock.advance(5000);
    expect(await flushing).toMatchObject({ retried: 1, dead: 0 });
    expect(r.calls).toEqual([]);
    expect(r.outbox.online).toBe(true);
  });
});

describe('flush(), stop() and close() always settle', () => {
  it('against a server that accepts the connection and never says a word', async () => {
    const silent = await silentServer();
    try {
      await r.reopen({ baseUrl: silent.url });
      await r.outbox.enqueueMany([{ url: '/a', group: 'a' }, { url: '/b', group: 'b' }]);
      r.outbox.start();
      const flushing = r.outbox.flush();
      while (silent.connections() < 2) await io();
      const closing = r.outbox.close();
      expect(await within(closing, 100)).toBe(false);
      r.clock.advance(5000);
      expect(await within(Promise.all([flushing, closing]), 2000)).toBe(true);
    } finally {
      await silent.close();
    }
  });

  it('stop() against a body that stalls', async () => {
    r.server.next({ status: 200, stallBody: 'x' });
    r.outbox.start();
    await r.outbox.enqueue({ url: '/x' });
    await r.server.waitFor(1);
    await io();
    const stopping = r.outbox.stop();
    r.clock.advance(5000);
    expect(await within(stopping, 2000)).toBe(true);
    expect(r.events('sent')).toEqual([]);
  });

  it('against a transport that ignores the abort signal: the attempt ends at the limit, and a late response is cancelled', async () => {
    let answer: (response: Response) => void = () => undefined;
    const deaf: typeof fetch = () => new Promise<Response>((resolve) => (answer = resolve));
    await r.reopen({ fetch: deaf });
    await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await io();
    r.clock.advance(5000);
    expect(await within(flushing, 2000)).toBe(true);
    expect(await flushing).toMatchObject({ sent: 0, retried: 1 });
    expect(r.events('retry')).toMatchObject([{ error: expect.stringMatching(/5000 ms/) }]);
    let cancelled = false;
    answer(new Response(new ReadableStream({ cancel: () => void (cancelled = true) })));
    await io();
    expect(cancelled).toBe(true);
    expect(r.events('sent')).toEqual([]);
    r.outbox.start();
    r.clock.advance(1000);
    await io();
    expect(await within(r.outbox.stop(), 100)).toBe(false);
    r.clock.advance(5000);
    expect(await within(Promise.all([r.outbox.stop(), r.outbox.close()]), 2000)).toBe(true);
  });

  it.each([
    ['stop()', (outbox: Outbox) => outbox.stop()],
    ['close()', (outbox: Outbox) => outbox.close()],
  ] as const)('%s during a flush ends it: the requests in flight settle, nothing more is sent', async (_, end) => {
    r.server.script(() => ({ status: 200, delayMs: 30 }));
    // Both kinds of unit: a chain of one group (a request after another), and tasks of groups of their own.
    await r.outbox.enqueueMany([
      ...Array.from({ length: 20 }, (_, n) => ({ url: `/chain/${n}`, group: 'chain' })),
      ...Array.from({ length: 20 }, (_, n) => ({ url: `/own/${n}`, group: `own-${n}` })),
    ]);
    await r.reopen({ concurrency: 2 });
    const flushing = r.outbox.flush();
    await r.server.waitFor(2);
    const ending = end(r.outbox);
    // The acks of what was sent wait a moment on the (fake) clock, to go in one commit with those that follow: the
    // clock moves on until both settle, as the responses (30 ms of real time each) may come after any one step of it.
    expect(await settlesTicking(Promise.all([flushing, ending]), 5000)).toBe(true);
    const sent = r.server.received.length;
    expect(sent).toBeLessThanOrEqual(4);
    expect(await flushing).toMatchObject({ sent: r.server.delivered.length });
    await io();
    expect(r.server.received).toHaveLength(sent);
  });

  it('on the real clock: a flush against a silent server settles within timeoutMs and a small margin', async () => {
    const silent = await silentServer();
    const outbox = await Outbox.open({ name: 'real', store: new MemoryStore(), baseUrl: silent.url, timeoutMs: 300 });
    try {
      await outbox.enqueue({ url: '/x' });
      const started = performance.now();
      expect(await outbox.flush()).toMatchObject({ retried: 1 });
      expect(performance.now() - started).toBeLessThan(300 + 700);
    } finally {
      await outbox.close();
      await silent.close();
    }
  });
});
