import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from '../../src/outbox/outbox.js';
import type { OutboxOptions } from '../../src/outbox/options.js';
import { rig, type Rig } from './helpers.js';

let r: Rig;
let page: EventTarget;
beforeEach(async () => {
  r = await rig();
  page = Object.assign(new EventTarget(), { onpagehide: null });
});
afterEach(() => r.teardown());

/** Hides the page; returns the paths of the requests it started (synchronously, as a real 'pagehide' must). */
function hide(): string[] {
  const before = r.calls.length;
  page.dispatchEvent(new Event('pagehide'));
  return r.calls.slice(before).map((url) => new URL(url).pathname);
}

describe('unloadFlush', () => {
  it("on 'pagehide', sends this handle's pending tasks as keepalive requests, keeping them stored", async () => {
    await r.reopen({ ordering: 'none', page });
    const ids = await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
    page.dispatchEvent(new Event('pagehide'));
    await r.server.waitFor(2);
    expect(r.server.received.map((x) => x.key).sort()).toEqual([...ids].sort());
    // Nothing can be acked while the page goes away: the next session sends them again, with the same keys.
    expect(await r.outbox.size()).toBe(2);
  });

  // `page` is documented as where 'pagehide' is listened for; one given without an `onpagehide` property (a plain
  // EventTarget, as a test makes) was taken for no page at all, so the option did nothing, told nowhere.
  it("listens on a `page` given as a plain EventTarget", async () => {
    const plain = new EventTarget();
    await r.reopen({ ordering: 'none', page: plain });
    const id = await r.outbox.enqueue({ url: '/a' });
    const before = r.calls.length;
    plain.dispatchEvent(new Event('pagehide'));
    expect(r.calls.slice(before).map((url) => new URL(url).pathname)).toEqual(['/a']);
    await r.server.waitFor(1);
    expect(r.server.received.map((x) => x.key)).toEqual([id]);
  });

  it("still sends after the page's leaving failed the request out (Firefox and Safari abort it just before 'pagehide')", async () => {
    const sent: string[] = [];
    let leave!: () => void;
    const fetch: typeof globalThis.fetch = (input, init) => {
      const path = new URL(String(input)).pathname;
      sent.push(`${path}${init?.keepalive ? ' keepalive' : ''}`);
      if (path !== '/out') return Promise.resolve(new Response('ok'));
      return new Promise((_, reject) => (leave = () => reject(new TypeError('NetworkError when attempting to fetch resource.'))));
    };
    await r.reopen({ ordering: 'none', concurrency: 1, page, fetch });
    await r.outbox.enqueue({ url: '/out' });
    r.outbox.start();
    await vi.waitFor(() => expect(sent).toEqual(['/out']));
    await r.outbox.enqueueMany([{ url: '/b' }, { url: '/c' }]);
    leave();
    await vi.waitFor(() => expect(r.outbox.online).toBe(false));
    page.dispatchEvent(new Event('pagehide'));
    expect(sent).toEqual(['/out', '/b keepalive', '/c keepalive']);
    // Told offline (by setOnline, or the platform's own 'offline'), it sends nothing.
    r.outbox.setOnline(false);
    page.dispatchEvent(new Event('pagehide'));
    expect(sent).toHaveLength(3);
  });

  it('sends where setOnline(true) overrides a platform that says offline, as delivery then does', async () => {
    const connectivity = { online: false, subscribe: () => () => undefined };
    await r.reopen({ ordering: 'none', page, connectivity });
    await r.outbox.enqueue({ url: '/a' });
    expect(hide()).toEqual([]);
    r.outbox.setOnline(true);
    expect(hide()).toEqual(['/a']);
    await r.server.waitFor(1);
  });

  it("sends nothing to a host that asked for a wait (a 429's Retry-After), as delivery holds its tasks back", async () => {
    const sent: string[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      const { pathname, origin } = new URL(String(input));
      sent.push(`${origin === r.server.url ? '' : origin}${pathname}${init?.keepalive ? ' keepalive' : ''}`);
      if (pathname === '/first') return Promise.resolve(new Response('slow down', { status: 429, headers: { 'retry-after': '3600' } }));
      return Promise.resolve(new Response('ok'));
    };
    await r.reopen({ ordering: 'none', concurrency: 1, page, fetch });
    await r.outbox.enqueue({ url: '/first' });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
    await r.outbox.enqueueMany([{ url: '/b' }, { url: 'https://other.example.test/c' }]);
    page.dispatchEvent(new Event('pagehide'));
    expect(sent).toEqual(['/first', 'https://other.example.test/c keepalive']);
  });

  it("with ordering, sends each group's first task still stored only: no response can be awaited before the next", async () => {
    await r.reopen({ page });
    await r.outbox.enqueueMany([{ url: '/a1', group: 'a' }, { url: '/a2', group: 'a' }, { url: '/b1', group: 'b' }, { url: '/d1' }, { url: '/d2' }]);
    expect(hide().sort()).toEqual(['/a1', '/b1', '/d1']);
    await r.outbox.remove([(await r.outbox.list()).find((t) => t.url.endsWith('/a1'))!.id]);
    // Hidden again once those requests ended (a task is never sent by keepalive beside its copy still out).
    await r.server.waitFor(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hide().sort()).toEqual(['/a2', '/b1', '/d1']);
    await r.reopen({ ordering: 'fifo', page });
    expect(hide()).toEqual([]);
    await r.outbox.enqueue({ url: '/later', group: 'a' });
    expect(hide()).toEqual([]);
  });

  it('with ordering, sends nothing of a group whose first task waits out a retry delay', async () => {
    await r.reopen({ page, concurrency: 1 });
    r.server.next({ status: 503 });
    await r.outbox.enqueueMany([{ url: '/a1', group: 'a' }, { url: '/a2', group: 'a' }]);
    await r.outbox.flush();
    await r.outbox.enqueue({ url: '/b1', group: 'b' });
    expect(hide()).toEqual(['/b1']);
  });

  it('sends the tasks delivery took ahead for the next free slot, not those whose request is out', async () => {
    const started: string[] = [];
    const out: string[] = [];
    const answers: (() => void)[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      const path = new URL(String(input)).pathname;
      (init?.keepalive ? out : started).push(path);
      return new Promise((resolve) => answers.push(() => resolve(new Response(null, { status: 200 }))));
    };
    await r.reopen({ ordering: 'none', concurrency: 4, page, fetch });
    await r.outbox.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ url: `/t${i}` })));
    r.outbox.start();
    await vi.waitFor(() => expect(started).toHaveLength(4));
    page.dispatchEvent(new Event('pagehide'));
    const left = Array.from({ length: 30 }, (_, i) => `/t${i}`).filter((path) => !started.includes(path));
    expect(out.sort()).toEqual(left.sort());
    const stopped = r.outbox.stop();
    for (const answer of answers) answer();
    await stopped;
  });

  describe('back from the back/forward cache', () => {
    /** A fetch whose keepalive requests hang till `end(path)`; the others answer 200 at once. */
    function keepaliveFetch() {
      const sent: string[] = [];
      const ends = new Map<string, () => void>();
      const fetch: typeof globalThis.fetch = (input, init) => {
        const path = new URL(String(input)).pathname;
        sent.push(`${path}${init?.keepalive ? ' keepalive' : ''}`);
        if (!init?.keepalive) return Promise.resolve(new Response('ok'));
        return new Promise((resolve) => ends.set(path, () => resolve(new Response('ok'))));
      };
      return { sent, fetch, end: (path: string) => ends.get(path)!() };
    }
    const restore = () => page.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
    beforeEach(() => Object.assign(page, { onpageshow: null }));

    it("sends no task again while the keepalive request it went in as the page hid is out, nor its group's next", async () => {
      const k = keepaliveFetch();
      await r.reopen({ page, fetch: k.fetch });
      await r.outbox.enqueueMany([{ url: '/a', group: 'g' }, { url: '/b', group: 'g' }, { url: '/c' }]);
      page.dispatchEvent(new Event('pagehide'));
      expect(k.sent).toEqual(['/a keepalive', '/c keepalive']);
      restore();
      r.outbox.start();
      // Sent again beside its keepalive copy, a task had two requests of one Idempotency-Key out at once (a server
      // answering 409 to a key in progress sent it to dead), and the copy of a group's first could land after its next.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(k.sent).toEqual(['/a keepalive', '/c keepalive']);
      k.end('/a');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(k.sent).toHaveLength(2);
      // Delivery goes on once every request the hide sent has ended.
      k.end('/c');
      await vi.waitFor(async () => expect(await r.outbox.size()).toBe(0));
      const again = k.sent.slice(2);
      expect([again.length, again.indexOf('/a') < again.indexOf('/b'), new Set(again)]).toEqual([3, true, new Set(['/a', '/b', '/c'])]);
    });

    it('waits for every keepalive request, a task taken ahead for a slot included, and aborts one at its time limit', async () => {
      const k = keepaliveFetch();
      let answer!: () => void;
      const signals: AbortSignal[] = [];
      const fetch: typeof globalThis.fetch = (input, init) => {
        if (init?.keepalive) signals.push(init.signal!);
        if (new URL(String(input)).pathname !== '/first') return k.fetch(input, init);
        k.sent.push('/first');
        return new Promise((resolve) => (answer = () => resolve(new Response('ok'))));
      };
      await r.reopen({ ordering: 'none', concurrency: 1, timeoutMs: 5000, page, fetch });
      await r.outbox.enqueueMany([{ url: '/first' }, { url: '/t1' }, { url: '/t2' }]);
      r.outbox.start();
      await vi.waitFor(() => expect(k.sent).toEqual(['/first']));
      page.dispatchEvent(new Event('pagehide'));
      expect(k.sent.slice(1).sort()).toEqual(['/t1 keepalive', '/t2 keepalive']);
      restore();
      answer();
      await vi.waitFor(async () => expect(await r.outbox.size()).toBe(2));
      k.end('/t2');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(k.sent).toHaveLength(3);
      // The keepalive of /t1 never ends by itself: aborted at `timeoutMs` (the fake heeds no signal), and both go.
      r.clock.advance(4000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect([k.sent.length, signals.map((s) => s.aborted)]).toEqual([3, [false, false]]);
      r.clock.advance(1000);
      await vi.waitFor(() => expect(k.sent.slice(3).sort()).toEqual(['/t1', '/t2']));
      expect(signals.map((s) => s.aborted)).toEqual([true, false]);
      await vi.waitFor(async () => expect(await r.outbox.size()).toBe(0));
    });

    it("evicts no task whose keepalive copy is out ('drop-oldest'), as it evicts none in flight", async () => {
      const k = keepaliveFetch();
      await r.reopen({ ordering: 'none', page, fetch: k.fetch, limits: { maxTasks: 2, overflow: 'drop-oldest' } });
      await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
      page.dispatchEvent(new Event('pagehide'));
      restore();
      await expect(r.outbox.enqueue({ url: '/c' })).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
      expect(r.events('dead')).toEqual([]);
      k.end('/a');
      await new Promise((resolve) => setTimeout(resolve, 10));
      await r.outbox.enqueue({ url: '/c' });
      expect(r.events('dead').map((d) => new URL(d.task.url).pathname)).toEqual(['/a']);
    });

    it('hidden again before they ended, sends no task by keepalive a second time beside the first', async () => {
      const k = keepaliveFetch();
      await r.reopen({ ordering: 'none', page, fetch: k.fetch });
      await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
      page.dispatchEvent(new Event('pagehide'));
      restore();
      await r.outbox.enqueue({ url: '/c' });
      page.dispatchEvent(new Event('pagehide'));
      expect(k.sent).toEqual(['/a keepalive', '/b keepalive', '/c keepalive']);
      restore();
      r.outbox.start();
      k.end('/a');
      k.end('/b');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(k.sent).toHaveLength(3);
      k.end('/c');
      await vi.waitFor(async () => expect(await r.outbox.size()).toBe(0));
      expect(k.sent.slice(3).sort()).toEqual(['/a', '/b', '/c']);
    });
  });

  it('keeps to a Retry-After: a task waiting out its delay goes on pagehide only once the delay is over', async () => {
    await r.reopen({ ordering: 'none', page });
    r.server.next({ status: 429, headers: { 'retry-after': '3600' } });
    await r.outbox.enqueue({ url: '/a' });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
    expect(await r.outbox.list()).toMatchObject([{ state: 'retrying' }]);
    expect(hide()).toEqual([]);
    r.clock.advance(3_600_000);
    expect(hide()).toEqual(['/a']);
    await r.server.waitFor(2);
  });

  it('sends neither a task scheduled for later (notBefore) nor an expired one (delivery moves it to dead)', async () => {
    await r.reopen({ ordering: 'none', page });
    const now = r.clock.now();
    await r.outbox.enqueueMany([{ url: '/later', notBefore: now + 60_000 }, { url: '/expiring', expiresAt: now + 1_000 }, { url: '/now' }]);
    r.clock.advance(1_000);
    expect(hide()).toEqual(['/now']);
    await r.server.waitFor(1);
  });

  it('passes over a task larger than what is left of the 64 KB and sends the smaller ones after it', async () => {
    await r.reopen({ ordering: 'none', page });
    const body = (kb: number) => 'x'.repeat(kb * 1024);
    await r.outbox.enqueueMany([
      { url: '/a', body: body(40) },
      { url: '/b', body: body(30) },
      { url: '/c', body: body(4) },
    ]);
    expect(hide()).toEqual(['/a', '/c']);
    await r.server.waitFor(2);
  });

  it('sends no task removed meanwhile', async () => {
    await r.reopen({ ordering: 'none', page });
    const [gone] = await r.outbox.enqueueMany([{ url: '/gone' }, { url: '/kept' }]);
    expect(await r.outbox.remove([gone!])).toBe(1);
    expect(hide()).toEqual(['/kept']);
    await r.server.waitFor(1);
  });

  it('sends no task another tab removed: the removal is relayed, not found out only at the next take', async () => {
    await r.reopen({ ordering: 'none', page });
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      const [gone] = await r.outbox.enqueueMany([{ url: '/gone' }, { url: '/kept' }]);
      await other.list();
      // What the tabs tell one another, heard here too.
      const channel = new BroadcastChannel(`sluice-outbox:${r.store.scope}:api`);
      const relayed = new Promise((resolve) => (channel.onmessage = (e: MessageEvent) => (e.data as { type: string }[]).some((m) => m.type === 'removed') && resolve(null)));
      expect(await other.remove([gone!])).toBe(1);
      await relayed;
      channel.close();
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(hide()).toEqual(['/kept']);
      await r.server.waitFor(1);
    } finally {
      await other.close();
    }
  });

  it("sends no removed task in place of another task with its id (a key used again): tasks are told apart by entry", async () => {
    await r.reopen({ ordering: 'none', page });
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      await r.outbox.enqueue({ url: '/first', id: 'order-17' });
      expect(await r.outbox.remove(['order-17'])).toBe(1);
      await other.enqueue({ url: '/second', id: 'order-17' });
      await r.outbox.list();
      // The other tab's task is not this handle's to send; the removed one is gone.
      expect(hide()).toEqual([]);
    } finally {
      await other.close();
    }
  });

  // A request built as the page hides cannot await them: without them it is not the request the task asked for.
  it.each<[string, Partial<OutboxOptions>]>([
    ['headers', { headers: () => ({ authorization: 'Bearer T' }) }],
    ['onBeforeSend', { onBeforeSend: (task) => task }],
    ['batch', { batch: { url: '/batch' } }],
  ])('is off with %s', async (_, hook) => {
    await r.reopen({ ordering: 'none', page, ...hook });
    await r.outbox.enqueue({ url: '/a' });
    expect(hide()).toEqual([]);
  });
});
