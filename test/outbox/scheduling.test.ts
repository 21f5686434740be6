import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { io, pass, rig, until, type Rig } from './helpers.js';
import { batchKey } from '../../src/outbox/request.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { systemClock } from '../../src/core/clock.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

const paths = () => r.server.received.map((x) => x.path);

describe("ordering: 'group' (the default)", () => {
  it('keeps order within a group across a retry, while other groups go on', async () => {
    r.server.plan('a1', [{ status: 503 }]);
    await r.outbox.enqueueMany([
      { url: '/a1', id: 'a1', group: 'a' },
      { url: '/a2', id: 'a2', group: 'a' },
      { url: '/b1', id: 'b1', group: 'b' },
      { url: '/b2', id: 'b2', group: 'b' },
    ]);
    await r.outbox.flush();
    // a1 failed and waits for its retry; a2 must not overtake it; group b is not held back.
    expect(paths()).toEqual(['/a1', '/b1', '/b2']);
    r.clock.advance(500);
    await r.outbox.flush();
    expect(paths()).toEqual(['/a1', '/b1', '/b2', '/a1', '/a2']);
  });

  // A group's next chain is taken while the one before is in flight (so that it starts the moment that one is
  // done): when the chain before stops, what was taken behind it goes back untried, in order.
  it('keeps order and attempts across a retry in a long group, whose next tasks were taken ahead', async () => {
    const ids = Array.from({ length: 20 }, (_, n) => `a${n}`);
    r.server.plan('a10', [{ status: 503 }]);
    await r.outbox.enqueueMany(ids.map((id) => ({ url: `/${id}`, id, group: 'a' })));
    await r.outbox.flush();
    expect(paths()).toEqual(ids.slice(0, 11).map((id) => `/${id}`));
    expect((await r.outbox.list()).map((t) => t.attempts)).toEqual([1, ...ids.slice(11).map(() => 0)]);
    r.clock.advance(500);
    await r.outbox.flush();
    expect(paths()).toEqual([...ids.slice(0, 11), ...ids.slice(10)].map((id) => `/${id}`));
    expect(await r.outbox.size()).toBe(0);
  });

  it('sends a task of higher priority that came while a group was in flight before the rest of that group', async () => {
    await r.reopen({ concurrency: 1 });
    const ids = Array.from({ length: 20 }, (_, n) => `a${n}`);
    await r.outbox.enqueueMany(ids.map((id) => ({ url: `/${id}`, group: 'a' })));
    r.server.onHeaders = async (req) => {
      if (req.url === '/a3') await r.outbox.enqueue({ url: '/urgent', group: 'b', priority: 'high' });
    };
    await r.outbox.flush();
    // The chain under way (all 20) stops before its next request, with the only slot wanted: the urgent task goes
    // next, and the rest of the group after it, in order.
    expect(paths()).toEqual([...ids.slice(0, 4).map((id) => `/${id}`), '/urgent', ...ids.slice(4).map((id) => `/${id}`)]);
    expect((await r.outbox.list()).length).toBe(0);
  });

  it("a task of higher priority whose retry delay ends while another group's chain holds the one slot: the chain yields to it", async () => {
    await r.reopen({ concurrency: 1 });
    r.server.plan('b', [{ status: 503 }]);
    await r.outbox.enqueue({ url: '/b', id: 'b', group: 'b', priority: 'high' });
    r.outbox.start();
    await until(() => r.events('retry').length === 1);
    const ids = Array.from({ length: 40 }, (_, n) => `a${n}`);
    r.server.onHeaders = async (req) => {
      // Its retry delay (500 ms) ends while the chain of 'a' (32 taken ahead) is under way.
      if (req.url === '/a3') r.clock.advance(1_000);
      await io(5);
    };
    await r.outbox.enqueueMany(ids.map((id) => ({ url: `/${id}`, group: 'a', priority: 'low' as const })));
    await until(() => paths().filter((p) => p === '/b').length === 2 && r.events('sent').length === 41);
    const again = paths().lastIndexOf('/b');
    // The chain saw only tasks ready when it was taken, never one whose wait ended since: it went after all 32.
    expect(again - paths().indexOf('/a3')).toBeLessThanOrEqual(4);
    await r.outbox.stop();
  });

  it("a running outbox wakes for a wait that ends while a chain is under way, with slots free (the chain's answers kick nothing)", async () => {
    // Real time: the wake is a timer, and every timer a fake clock's step fires (acks, leases) would kick the loop too.
    await r.outbox.close();
    await r.open({ retry: { initialDelayMs: 100 } }, systemClock as never);
    r.server.plan('b', [{ status: 503 }]);
    r.server.onHeaders = () => io(20);
    // 'b' fails while the chain of 'a' is out: no answer but the chain's comes until it ends.
    await r.outbox.enqueue({ url: '/b', id: 'b', group: 'b' });
    await r.outbox.enqueueMany(Array.from({ length: 32 }, (_, n) => ({ url: `/a${n}`, group: 'a' })));
    r.outbox.start();
    await until(() => paths().filter((p) => p === '/b').length === 2, 20_000);
    // Its delay (50 ms) ends two or three requests of 'a' in (20 ms each); it waited for all 32 before.
    const [first, again] = [paths().indexOf('/b'), paths().lastIndexOf('/b')];
    expect(again - first - 1).toBeLessThanOrEqual(16);
    await r.outbox.stop();
  });

  it('a wait that ends while every slot is busy sets no timer each second till one frees: the answer that frees it kicks', async () => {
    await r.reopen({ concurrency: 1, timeoutMs: 30_000 });
    r.server.script((req) => (req.path === '/hang' ? { hang: true } : undefined));
    await r.outbox.enqueue({ url: '/hang', group: 'h' });
    await r.outbox.enqueue({ url: '/later', group: 'l', notBefore: r.clock.now() + 2_000 });
    r.outbox.start();
    await until(() => r.server.received.length === 1);
    const before = r.clock.fired;
    for (let i = 0; i < 25; i++) {
      r.clock.advance(1_000);
      await io(10);
    }
    // Its notBefore's timer, and none after (it fired every second, 24 times).
    expect(r.clock.fired - before).toBeLessThanOrEqual(3);
    r.clock.advance(5_000);
    await until(() => r.server.received.some((x) => x.path === '/later'));
    await r.outbox.stop();
  });

  it("says 'sent' while a long chain of a group is still under way, not at its end", async () => {
    await r.reopen({ concurrency: 1 });
    const ids = Array.from({ length: 30 }, (_, n) => `a${n}`);
    await r.outbox.enqueueMany(ids.map((id) => ({ url: `/${id}`, id, group: 'a' })));
    const sent: string[] = [];
    let seen!: () => void;
    const sixteen = new Promise<void>((resolve) => (seen = resolve));
    r.outbox.addEventListener('sent', (e) => sent.push(e.detail.task.id) === 16 && seen());
    // The response to a20 waits until the first sixteen tasks were said sent: told only at the end of the chain,
    // they never would be, and the test would time out.
    r.server.onHeaders = (req) => (req.url === '/a20' ? sixteen : undefined);
    await r.outbox.flush();
    expect(sent).toEqual(ids);
    expect(await r.outbox.size()).toBe(0);
  });

  it('puts tasks without a group in one default group, delivered in enqueue order', async () => {
    await r.outbox.enqueueMany(['/1', '/2', '/3'].map((url) => ({ url })));
    await r.outbox.flush();
    expect(paths()).toEqual(['/1', '/2', '/3']);
  });
});

describe("ordering: 'fifo' and 'none'", () => {
  it("'fifo': a failing head holds back every later task", async () => {
    await r.reopen({ ordering: 'fifo' });
    r.server.plan('h', [{ status: 500 }]);
    await r.outbox.enqueueMany([{ url: '/h', id: 'h', group: 'x' }, { url: '/t', group: 'y' }]);
    await r.outbox.flush();
    expect(paths()).toEqual(['/h']);
    r.clock.advance(500);
    await r.outbox.flush();
    expect(paths()).toEqual(['/h', '/h', '/t']);
  });

  it("'none': a failing task holds back nothing", async () => {
    await r.reopen({ ordering: 'none' });
    r.server.plan('h', [{ status: 500 }]);
    await r.outbox.enqueueMany([{ url: '/h', id: 'h' }, { url: '/t' }]);
    await r.outbox.flush();
    expect(paths().sort()).toEqual(['/h', '/t']);
    expect(await r.outbox.size()).toBe(1);
  });
});

describe('concurrency', () => {
  it('commits the acks of responses that come while others are in flight together, not one commit per task', async () => {
    // A MemoryStore that counts the commits to the outbox's queue.
    let commits = 0;
    const store = new MemoryStore();
    const open = store.open.bind(store);
    store.open = async (name) => {
      const storage = await open(name);
      const commit = storage.commit.bind(storage);
      if (name === 'api') storage.commit = (token, batch) => (commits++, commit(token, batch));
      return storage;
    };
    await r.reopen({ store, ordering: 'none', concurrency: 4 });
    await r.outbox.enqueueMany(Array.from({ length: 32 }, (_, n) => ({ url: `/${n}` })));
    r.server.script(() => ({ delayMs: 2 }));
    const before = commits;
    expect(await r.outbox.flush()).toMatchObject({ sent: 32, remaining: 0 });
    // The acks alone, one commit each, would be 32; takes (several tasks each) and grouped acks stay well below.
    expect(commits - before).toBeLessThan(24);
    expect(r.events('sent')).toHaveLength(32);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    await r.reopen({ ordering: 'none', concurrency: 2, timeoutMs: 1000 });
    r.server.script(() => ({ hang: true }));
    await r.outbox.enqueueMany(['/1', '/2', '/3', '/4', '/5'].map((url) => ({ url })));
    const flushing = r.outbox.flush();
    await r.server.waitFor(2);
    // Give a third request every chance to start if it were going to.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(r.server.received).toHaveLength(2);
    r.server.script(() => ({}));
    r.clock.advance(1000);
    const result = await flushing;
    expect(result.sent + result.retried).toBe(5);
    expect(r.server.received.length).toBe(5);
  });
});

describe('notBefore, expiresAt, priority', () => {
  it('does not send before notBefore, and wakes a running outbox then', async () => {
    const at = r.clock.now() + 10_000;
    await r.outbox.enqueue({ url: '/later', notBefore: at });
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
    r.clock.advance(10_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
  });

  it("sends an expired task to dead as 'expired', unsent", async () => {
    await r.outbox.enqueue({ url: '/stale', expiresAt: r.clock.now() + 1000 });
    r.clock.advance(1000);
    expect(await r.outbox.flush()).toMatchObject({ dead: 1, sent: 0 });
    expect(r.server.received).toHaveLength(0);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'expired', attempts: 0 }]);
  });

  it("a task that expires, or that onBeforeSend skips, after a failed attempt: its dead letter counts requests made and keeps the last status", async () => {
    let skip = false;
    await r.reopen({ onBeforeSend: (task) => (skip && task.url.endsWith('/skipped') ? false : task) });
    r.server.plan('e', [{ status: 503 }]);
    r.server.plan('s', [{ status: 503 }]);
    await r.outbox.enqueueMany([
      { url: '/stale', id: 'e', group: 'e', expiresAt: r.clock.now() + 5000 },
      { url: '/skipped', id: 's', group: 's' },
    ]);
    expect(await r.outbox.flush()).toMatchObject({ retried: 2 });
    r.clock.advance(5000);
    skip = true;
    expect(await r.outbox.flush()).toMatchObject({ dead: 2, sent: 0 });
    expect(r.server.received).toHaveLength(2);
    const letters = await r.outbox.dead.list();
    expect(letters.map((l) => [l.task.id, l.reason, l.attempts, l.status])).toEqual(
      expect.arrayContaining([
        ['e', 'expired', 1, 503],
        ['s', 'skipped', 1, 503],
      ]),
    );
  });

  it('a task that expires while it waits out a retry delay is dead at its expiresAt, not at the end of the wait', async () => {
    r.server.next({ status: 503, headers: { 'retry-after': '600' } });
    await r.outbox.enqueue({ url: '/stale', id: 'e', expiresAt: r.clock.now() + 300 });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
    r.clock.advance(299);
    expect(await r.outbox.flush()).toMatchObject({ dead: 0, remaining: 1 });
    r.clock.advance(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1, remaining: 0 });
    expect(r.server.received).toHaveLength(1);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'expired', attempts: 1, status: 503 }]);
  });

  it('a task that expires while its request is out, answered with a retry, is dead as expired at once: it waits out no delay', async () => {
    r.server.script(() => ({ status: 503, headers: { 'retry-after': '600' }, delayMs: 50 }));
    await r.outbox.enqueue({ url: '/late', id: 'l', expiresAt: r.clock.now() + 100 });
    const flushed = r.outbox.flush();
    await r.server.waitFor(1);
    r.clock.advance(100);
    expect(await flushed).toMatchObject({ retried: 0, dead: 1, remaining: 0 });
    expect(r.events('retry')).toEqual([]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'expired', attempts: 1, status: 503 }]);
  });

  it('drains higher priorities first among tasks that ordering lets go', async () => {
    await r.reopen({ concurrency: 1, ordering: 'none' });
    await r.outbox.enqueueMany([
      { url: '/low', priority: 'low' },
      { url: '/normal' },
      { url: '/high', priority: 'high' },
    ]);
    await r.outbox.flush();
    expect(paths()).toEqual(['/high', '/normal', '/low']);
  });

  it("'none': a task of higher priority that came while others were taken ahead goes next, before them", async () => {
    await r.reopen({ concurrency: 1, ordering: 'none' });
    const ids = Array.from({ length: 10 }, (_, n) => `t${n}`);
    await r.outbox.enqueueMany(ids.map((id) => ({ url: `/${id}` })));
    r.server.onHeaders = async (req) => {
      if (req.url === '/t0') await r.outbox.enqueue({ url: '/urgent', priority: 'high' });
    };
    await r.outbox.flush();
    // t1… were taken ahead while t0 was in flight; they go back, untried, and the urgent task goes first.
    expect(paths()).toEqual(['/t0', '/urgent', ...ids.slice(1).map((id) => `/${id}`)]);
    expect((await r.outbox.list()).length).toBe(0);
    expect(r.events('sent').every((e) => e.attempts === 1)).toBe(true);
  });
});

describe('coalescing by key', () => {
  it("replaces an older pending task with the same key; the older goes to dead as 'superseded'", async () => {
    const old = await r.outbox.enqueue({ url: '/draft', key: 'draft-1', body: { v: 1 } });
    const fresh = await r.outbox.enqueue({ url: '/draft', key: 'draft-1', body: { v: 2 } });
    await r.outbox.enqueue({ url: '/other', key: 'draft-2' });
    expect(await r.outbox.size()).toBe(2);
    await r.outbox.flush();
    expect(r.server.received.map((x) => x.key)).toContain(fresh);
    expect(r.server.received.map((x) => x.key)).not.toContain(old);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'superseded', task: { id: old, body: { v: 1 } } }]);
  });

  it('dead.retry() of all leaves the superseded (older data would go over newer); named, they go back', async () => {
    const old = await r.outbox.enqueue({ url: '/draft', key: 'draft-1', body: { v: 1 } });
    await r.outbox.enqueue({ url: '/draft', key: 'draft-1', body: { v: 2 } });
    const failed = await r.outbox.enqueue({ url: '/other' });
    r.server.plan(failed, [{ status: 400 }]);
    await r.outbox.flush();
    expect((await r.outbox.dead.list()).map((l) => l.reason).sort()).toEqual(['status', 'superseded']);
    expect(await r.outbox.dead.retry()).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.server.received.at(-1)!.key).toBe(failed);
    const [superseded] = await r.outbox.dead.list();
    expect(superseded).toMatchObject({ reason: 'superseded', task: { id: old } });
    expect(await r.outbox.dead.retry([superseded!.id])).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.server.received.at(-1)!.key).toBe(old);
  });

  it('does not replace a task in flight; its request failed, it is not retried (older data after newer): superseded', async () => {
    r.server.next({ hang: true });
    await r.reopen({ timeoutMs: 1000 });
    const first = await r.outbox.enqueue({ url: '/k', key: 'k' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    const second = await r.outbox.enqueue({ url: '/k', key: 'k' });
    r.clock.advance(1000);
    await flushing;
    await r.outbox.flush();
    expect(r.server.received.map((x) => x.key)).toEqual([first, second]);
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id: first }, reason: 'superseded', error: 'No response within 1000 ms.' }]);
  });
});

describe('batch', () => {
  it('sends many bodies as one JSON array per maxItems', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 100 } });
    await r.outbox.enqueueMany(Array.from({ length: 250 }, (_, i) => ({ url: '/one', body: { i } })));
    expect(await r.outbox.flush()).toMatchObject({ sent: 250, remaining: 0 });
    expect(paths()).toEqual(['/batch', '/batch', '/batch']);
    const items = r.server.received.flatMap((x) => JSON.parse(x.body.toString()) as { i: number }[]);
    expect(items.map((x) => x.i)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(r.server.received.map((x) => x.key)).toEqual([expect.stringMatching(/^batch-100-[0-9a-f]{32}$/), expect.stringMatching(/^batch-100-/), expect.stringMatching(/^batch-50-/)]);
    expect(new Set(r.server.received.map((x) => x.key)).size).toBe(3);
  });

  it('keeps the batch key short: 1000 tasks in one batch reach a server with the usual 16 KiB header limit', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 1000 } });
    const ids = await r.outbox.enqueueMany(Array.from({ length: 1000 }, (_, i) => ({ url: '/one', body: { i } })));
    // Node's http server refuses (431) headers past its maxHeaderSize, 16 KiB by default; the ids alone are 32 KiB.
    expect(ids.join(',').length).toBeGreaterThan(16 * 1024);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1000, remaining: 0 });
    expect(r.server.received).toHaveLength(1);
    expect(r.server.received[0]!.key).toMatch(/^batch-1000-[0-9a-f]{32}$/);
    expect((JSON.parse(r.server.received[0]!.body.toString()) as unknown[]).length).toBe(1000);
  });

  it('keeps each batch within maxBytes, in order, and sends a task larger than maxBytes alone', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 100, maxBytes: 10_000 } });
    const tasks = Array.from({ length: 30 }, (_, i) => ({ url: '/one', body: { i, s: 'x'.repeat(i === 12 ? 20_000 : 900) } }));
    await r.outbox.enqueueMany(tasks);
    expect(await r.outbox.flush()).toMatchObject({ sent: 30, remaining: 0 });
    const batches = r.server.received.map((x) => JSON.parse(x.body.toString()) as { i: number }[]);
    expect(batches.flat().map((x) => x.i)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(batches.filter((b) => b.length === 1 && b[0]!.i === 12)).toHaveLength(1);
    for (const [k, x] of r.server.received.entries()) if (batches[k]![0]!.i !== 12) expect(x.body.length).toBeLessThanOrEqual(10_000);
    // Nine tasks of about 1 KB fill a batch: 29 of them go in more than three, fewer than ten.
    expect(batches.length).toBeGreaterThan(4);
    expect(batches.length).toBeLessThan(10);
  });

  it("runs a batch's onBeforeSend hooks side by side: hooks slow together past timeoutMs do not hold the batch for ever", async () => {
    // 40 hooks of 50 ms each: 2 s one after another, past the attempt's 1 s at every attempt.
    let hooks = 0;
    await r.reopen({ batch: { url: '/batch' }, timeoutMs: 1000, onBeforeSend: (task) => (hooks++, new Promise((resolve) => r.clock.setTimeout(() => resolve(task), 50))) });
    await r.outbox.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ url: '/one', body: { i } })));
    const flushing = r.outbox.flush();
    await until(() => hooks > 0);
    await pass(r.clock, 200, 4);
    expect(await flushing).toMatchObject({ sent: 40, retried: 0, remaining: 0 });
    expect(r.server.received).toHaveLength(1);
  });

  it("an attempt whose onBeforeSend outlasts timeoutMs is a retry that says so (no request was made)", async () => {
    let called!: () => void;
    const hooked = new Promise<void>((resolve) => (called = resolve));
    await r.reopen({ timeoutMs: 1000, onBeforeSend: () => (called(), new Promise<false>(() => undefined)) });
    await r.outbox.enqueue({ url: '/one' });
    const flushing = r.outbox.flush();
    // The attempt's time runs from its start: on a slower store (Redis), after the take.
    await hooked;
    await pass(r.clock, 1200, 6);
    expect(await flushing).toMatchObject({ sent: 0, retried: 1 });
    expect((await r.outbox.list())[0]!.lastError).toBe("`onBeforeSend` did not finish within the attempt's 1000 ms.");
    expect(r.server.received).toHaveLength(0);
  });

  it("counts maxBytes in bytes of the batch's JSON, which a task's URL, ids and headers are no part of: batches are filled to it exactly", async () => {
    // Each body 98 bytes of JSON; ten of them, nine commas and the brackets: 991 bytes.
    await r.reopen({ batch: { url: '/batch', maxItems: 100, maxBytes: 991 } });
    const url = `/one?${'q'.repeat(400)}`;
    await r.outbox.enqueueMany(Array.from({ length: 30 }, () => ({ url, body: { s: 'x'.repeat(90) }, headers: { 'content-type': 'application/json' } })));
    expect(await r.outbox.flush()).toMatchObject({ sent: 30, remaining: 0 });
    expect(r.server.received.map((x) => x.body.length)).toEqual([991, 991, 991]);
  });

  it('sends a task larger than maxBytes alone, never in a batch with others, whatever the ordering', async () => {
    for (const ordering of ['none', 'group'] as const) {
      await r.reopen({ ordering, batch: { url: '/batch', maxItems: 100, maxBytes: 1000 } });
      r.server.received.length = 0;
      const sizes = [300, 2000, 300, 300, 300];
      await r.outbox.enqueueMany(sizes.map((n, i) => ({ url: '/one', body: { i, s: 'x'.repeat(n) }, ...(ordering === 'group' && { group: `g${i}` }) })));
      expect(await r.outbox.flush()).toMatchObject({ sent: 5, remaining: 0 });
      const batches = r.server.received.map((x) => JSON.parse(x.body.toString()) as { i: number }[]);
      expect(batches.flat().map((x) => x.i).sort()).toEqual([0, 1, 2, 3, 4]);
      expect(batches.find((b) => b.some((x) => x.i === 1))).toHaveLength(1);
      for (const x of r.server.received) if (x.body.length > 1000) expect(JSON.parse(x.body.toString())).toHaveLength(1);
    }
  });

  it('counts maxBytes in bytes of UTF-8, not characters: bodies of CJK text and emoji keep within it too', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 100, maxBytes: 10_000 } });
    // 900 characters of 3 bytes each (and 450 emoji of 4): each body some 2 700 bytes, 1 800 as characters.
    const tasks = Array.from({ length: 20 }, (_, i) => ({ url: '/one', body: { i, s: i % 2 ? '漢'.repeat(900) : '😀'.repeat(450) } }));
    await r.outbox.enqueueMany(tasks);
    expect(await r.outbox.flush()).toMatchObject({ sent: 20, remaining: 0 });
    for (const x of r.server.received) expect(x.body.length).toBeLessThanOrEqual(10_000);
  });

  it("a batched task that onBeforeSend turns into bytes is dead as 'invalid'; the rest of its batch goes as JSON", async () => {
    await r.reopen({
      batch: { url: '/batch' },
      onBeforeSend: (task) => (task.url.endsWith('/b') ? { ...task, body: new TextEncoder().encode('{"raw":1}') } : task),
    });
    await r.outbox.enqueueMany([{ url: '/a', body: { n: 1 } }, { url: '/b', body: { n: 2 } }, { url: '/c', body: { n: 3 } }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, dead: 1 });
    expect(r.server.received.map((x) => JSON.parse(x.body.toString()))).toEqual([[{ n: 1 }, { n: 3 }]]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'invalid', task: { url: expect.stringMatching(/\/b$/) }, error: expect.stringMatching(/batch/) }]);
  });

  it('retries a failed batch as a whole, with the same key', async () => {
    await r.reopen({ batch: { url: '/batch' } });
    r.server.next({ status: 503 });
    await r.outbox.enqueueMany([{ url: '/a', body: { a: 1 } }, { url: '/b', body: { b: 1 } }]);
    expect(await r.outbox.flush()).toMatchObject({ retried: 2 });
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2 });
    expect(r.server.received[0]!.key).toBe(r.server.received[1]!.key);
  });
});

describe('a batch judged: one response, each task by its own limits', () => {
  const names = (list: readonly { task: { url: string } }[]) => list.map((x) => new URL(x.task.url).pathname);

  it("a task past its own maxAgeMs is dead as 'max-age'; a fresh one batched with it is retried, not buried with it", async () => {
    await r.reopen({ batch: { url: '/batch' }, retry: { maxAgeMs: 60_000 } });
    r.server.script(() => ({ status: 503 }));
    await r.outbox.enqueue({ url: '/old', body: { n: 'old' } });
    r.clock.advance(61_000);
    await r.outbox.enqueue({ url: '/new', body: { n: 'new' } });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1, dead: 1, remaining: 1 });
    expect(r.server.received.map((x) => JSON.parse(x.body.toString()))).toEqual([[{ n: 'old' }, { n: 'new' }]]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'max-age', status: 503, attempts: 1, task: { url: expect.stringMatching(/\/old$/) } }]);
    expect(names(r.events('retry'))).toEqual(['/new']);
  });

  it("a task at its maxAttempts is dead as 'max-attempts'; one tried fewer times is retried (batched anew after a restart)", async () => {
    const options = { batch: { url: '/batch' }, retry: { maxAttempts: 2 } };
    await r.reopen(options);
    r.server.script(() => ({ status: 503 }));
    await r.outbox.enqueue({ url: '/old', body: { n: 'old' } });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
    await r.reopen(options);
    await r.outbox.enqueue({ url: '/new', body: { n: 'new' } });
    r.clock.advance(5000);
    expect(await r.outbox.flush()).toMatchObject({ retried: 1, dead: 1, remaining: 1 });
    expect(JSON.parse(r.server.received[1]!.body.toString())).toEqual([{ n: 'old' }, { n: 'new' }]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'max-attempts', attempts: 2, task: { url: expect.stringMatching(/\/old$/) } }]);
    expect(r.events('retry')).toMatchObject([{ task: { url: expect.stringMatching(/\/new$/) }, attempts: 1 }]);
  });

  it('classify is asked for each task of the batch; those it retries wait one delay and go again together', async () => {
    const asked: string[] = [];
    await r.reopen({
      batch: { url: '/batch' },
      ordering: 'none',
      classify: (outcome, task) => (asked.push(new URL(task.url).pathname), task.url.endsWith('/done') ? 'sent' : outcome instanceof Response && outcome.ok ? 'sent' : 'retry'),
    });
    r.server.next({ status: 500 });
    await r.outbox.enqueueMany([{ url: '/a', body: { n: 'a' } }, { url: '/done', body: { n: 'done' } }, { url: '/b', body: { n: 'b' } }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, retried: 2, remaining: 2 });
    expect(asked).toEqual(['/a', '/done', '/b']);
    expect(names(r.events('sent'))).toEqual(['/done']);
    expect(new Set(r.events('retry').map((x) => x.delayMs)).size).toBe(1);
    r.clock.advance(1000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
    expect(JSON.parse(r.server.received[1]!.body.toString())).toEqual([{ n: 'a' }, { n: 'b' }]);
  });
});

describe('a batch that failed', () => {
  const bodies = () => r.server.received.map((x) => (JSON.parse(x.body.toString()) as { n: string }[]).map((b) => b.n));
  const task = (n: string, group?: string) => ({ url: '/one', body: { n }, ...(group !== undefined && { group }) });

  for (const ordering of ['group', 'none'] as const) {
    it(`goes again as it was, under the same key, without the tasks stored since (ordering: '${ordering}')`, async () => {
      await r.reopen({ batch: { url: '/batch' }, ordering });
      r.server.next({ status: 503 });
      await r.outbox.enqueueMany([task('a'), task('b'), task('c')]);
      expect(await r.outbox.flush()).toMatchObject({ retried: 3 });
      await r.outbox.enqueueMany([task('d'), task('e')]);
      r.clock.advance(500);
      expect(await r.outbox.flush()).toMatchObject({ sent: 5, remaining: 0 });
      const sent = bodies();
      expect(sent[0]).toEqual(['a', 'b', 'c']);
      expect(sent.slice(1)).toContainEqual(['a', 'b', 'c']);
      expect(sent.slice(1)).toContainEqual(['d', 'e']);
      expect(r.server.received[1 + sent.slice(1).findIndex((b) => b[0] === 'a')]!.key).toBe(r.server.received[0]!.key);
      // In a lane, the tasks stored since go after the batch before them.
      if (ordering === 'group') expect(sent).toEqual([['a', 'b', 'c'], ['a', 'b', 'c'], ['d', 'e']]);
    });
  }

  it('keeps the order of its groups, and lets other groups go beside it', async () => {
    await r.reopen({ batch: { url: '/batch' } });
    r.server.next({ status: 503 });
    await r.outbox.enqueueMany([task('a1', 'a'), task('b1', 'b'), task('a2', 'a')]);
    expect(await r.outbox.flush()).toMatchObject({ retried: 3 });
    await r.outbox.enqueueMany([task('a3', 'a'), task('c1', 'c'), task('b2', 'b')]);
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 6, remaining: 0 });
    const sent = bodies();
    expect(sent[1]).toEqual(sent[0]);
    expect(r.server.received[1]!.key).toBe(r.server.received[0]!.key);
    expect(sent.slice(2).flat().sort()).toEqual(['a3', 'b2', 'c1']);
    // a3 and b2 waited for the batch ahead of them in their group; c1 did not have to.
    expect(sent.slice(2).find((b) => b.includes('a3'))).toEqual(expect.arrayContaining(['a3', 'b2']));
  });

  it('goes without a task removed meanwhile, under the key of what it now carries', async () => {
    await r.reopen({ batch: { url: '/batch' }, ordering: 'none' });
    r.server.next({ status: 503 });
    const ids = await r.outbox.enqueueMany([task('a'), task('b'), task('c')]);
    await r.outbox.flush();
    await r.outbox.remove([ids[1]!]);
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
    expect(bodies()).toEqual([['a', 'b', 'c'], ['a', 'c']]);
    expect(r.server.received[1]!.key).toBe(batchKey([ids[0]!, ids[2]!]));
  });
});

describe('batchKey()', () => {
  it('names the ids in order: the same list gives the same key, another list (a subset, another order, one character) another', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `task-${i}`);
    const variants = [ids, ids.slice(1), ids.slice(0, -1), [...ids].reverse(), [ids[1]!, ids[0]!, ...ids.slice(2)], ids.map((id, i) => (i === 7 ? `${id}x` : id))];
    const keys = variants.map(batchKey);
    expect(new Set(keys).size).toBe(variants.length);
    expect(batchKey([...ids])).toBe(keys[0]);
    // No two of many random lists share a key.
    const random = Array.from({ length: 20_000 }, (_, i) => batchKey([`${i}`, `${(i * 7919) % 20_000}`]));
    expect(new Set(random).size).toBe(20_000);
  });
});

describe('headers() and onBeforeSend', () => {
  it('evaluates headers() per send and never stores them', async () => {
    let n = 0;
    await r.reopen({ headers: () => ({ authorization: `Bearer ${++n}` }) });
    r.server.next({ status: 500 }, { status: 400 });
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    r.clock.advance(500);
    await r.outbox.flush();
    expect(r.server.received.map((x) => x.headers.authorization)).toEqual(['Bearer 1', 'Bearer 2']);
    const [dead] = await r.outbox.dead.list();
    expect(JSON.stringify(dead)).not.toContain('Bearer');
  });

  it('lets onBeforeSend edit a task (not its key) or skip it to dead', async () => {
    await r.reopen({
      onBeforeSend: (task) => (task.url.endsWith('/skip') ? false : { ...task, url: task.url.replace('/draft', '/final'), id: 'ignored' }),
    });
    const [id] = await r.outbox.enqueueMany([{ url: '/draft' }, { url: '/skip' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 1 });
    expect(r.server.received).toMatchObject([{ path: '/final', key: id }]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'skipped' }]);
  });

  // The README's recipe for tasks that depend on an earlier response: the 'sent' listener keeps what the first got,
  // and onBeforeSend of the next of its group reads it, so that 'sent' must be told before that task is built.
  it("with onBeforeSend, tells a task's 'sent' before the next task of its group is built, in a chain and across chains", async () => {
    const ids = new Map<string, Promise<string>>();
    const built: string[] = [];
    await r.reopen({
      onBeforeSend: async (task) => {
        built.push(task.url);
        const local = /\/notes\/local:(\w+)\//.exec(task.url)?.[1];
        const id = local === undefined ? undefined : await ids.get(local);
        return id === undefined ? task : { ...task, url: task.url.replace(`local:${local}`, id) };
      },
    });
    r.outbox.addEventListener('sent', (e) => {
      const local = e.detail.task.headers?.['x-local-id'];
      if (local && e.detail.response) ids.set(local, e.detail.response.json().then((note: { id: string }) => note.id));
    });
    r.server.script((req) => (req.path === '/notes' ? { body: JSON.stringify({ id: `n${JSON.parse(req.body.toString()).n}` }), delayMs: 20 } : {}));
    const tasks = [1, 2, 3].flatMap((n) => [
      { url: '/notes', body: { n }, headers: { 'x-local-id': `l${n}` }, group: 'notes' },
      { url: `/notes/local:l${n}/attachments`, body: { of: n }, group: 'notes' },
    ]);
    await r.outbox.enqueueMany(tasks);
    expect(await r.outbox.flush()).toMatchObject({ sent: 6 });
    expect(built).toHaveLength(6);
    expect(paths()).toEqual(['/notes', '/notes/n1/attachments', '/notes', '/notes/n2/attachments', '/notes', '/notes/n3/attachments']);
  });
});
