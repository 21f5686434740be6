import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { Outbox, Queue } from '../../src/index.node.js';
import type { OutboxOptions } from '../../src/outbox/options.js';
import { outboxQueue } from '../support/outbox-queue.js';

/**
 * Tasks behind their group's head in flight are read ahead of their request (a chain), and with `ordering: 'none'`
 * buffered for a free slot: no request is out for them. `remove`, a newer task with the same key and 'drop-oldest'
 * must deal with them as the pending tasks they are, and `list` must not show them 'sending'.
 */

/** A transport whose requests wait until `answer` lets the oldest one go (201). */
function gated() {
  const waiting: { url: string; go: (response: Response) => void }[] = [];
  const sent: string[] = [];
  const fetch = ((input: RequestInfo | URL) =>
    new Promise<Response>((go) => {
      const url = new URL(String(input)).pathname;
      sent.push(url);
      waiting.push({ url, go });
    })) as typeof globalThis.fetch;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
  gates.push(() => waiting.splice(0).forEach((w) => w.go(new Response(null, { status: 201 }))));
  return {
    fetch,
    sent,
    /** Resolves once `count` requests are out and unanswered. */
    async out(count: number): Promise<string[]> {
      for (let i = 0; i < 400 && waiting.length < count; i++) await settle();
      expect(waiting.length).toBe(count);
      await settle();
      return waiting.map((w) => w.url);
    },
    answer(): void {
      waiting.shift()!.go(new Response(null, { status: 201 }));
    },
    /** Answers every request, as they come, until `done` settles. */
    async answerAll<T>(done: Promise<T>): Promise<T> {
      let over = false;
      void done.finally(() => (over = true));
      while (!over) {
        while (waiting.length > 0) this.answer();
        await settle();
      }
      return done;
    },
  };
}

const opened: Outbox[] = [];
/** Lets every request still waiting go: a failed test must not hold its outbox's close for its time limit. */
const gates: (() => void)[] = [];
afterEach(async () => {
  for (const open of gates.splice(0)) open();
  for (const outbox of opened.splice(0)) await outbox.close().catch(() => undefined);
});

async function open(transport: ReturnType<typeof gated>, extra: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'http://127.0.0.1:59', fetch: transport.fetch, ...extra });
  opened.push(outbox);
  return outbox;
}

/** Enqueues `/t0`..`/t<count - 1>`, with `key` on those `keyed` names; resolves their ids. */
async function enqueue(outbox: Outbox, count: number, keyed: Record<number, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await outbox.enqueue({ url: `/t${i}`, ...(keyed[i] && { key: keyed[i] }) }));
  return ids;
}

describe('tasks read ahead of their request are pending, not in flight', () => {
  it("list() shows 'sending' only for the task whose request is out; those behind it wait their turn", async () => {
    const t = gated();
    const outbox = await open(t);
    await enqueue(outbox, 4);
    const flushed = outbox.flush();
    expect(await t.out(1)).toEqual(['/t0']);
    const states = (await outbox.list()).map((p) => `${p.url.slice(-2)}:${p.state}`);
    expect(states).toEqual(['t0:sending', 't1:ready', 't2:ready', 't3:ready']);
    expect((await outbox.list({ state: 'sending' })).map((p) => p.url)).toEqual(['http://127.0.0.1:59/t0']);
    expect((await t.answerAll(flushed)).sent).toBe(4);
  });

  it('remove() withdraws a task behind its group head in flight: never sent, the rest in order', async () => {
    const t = gated();
    const outbox = await open(t);
    const ids = await enqueue(outbox, 5);
    const flushed = outbox.flush();
    await t.out(1);
    expect(await outbox.remove([ids[2]!])).toBe(1);
    // The head itself is in flight: its response decides.
    expect(await outbox.remove([ids[0]!])).toBe(0);
    const run = await t.answerAll(flushed);
    expect(t.sent).toEqual(['/t0', '/t1', '/t3', '/t4']);
    expect(run.sent).toBe(4);
    expect(await outbox.size()).toBe(0);
  });

  it('a newer task with the same key replaces an older one waiting behind its group head in flight', async () => {
    const t = gated();
    const outbox = await open(t);
    await enqueue(outbox, 3, { 2: 'profile' });
    const dead: string[] = [];
    outbox.addEventListener('dead', (e) => dead.push(`${e.detail.reason} ${new URL(e.detail.task.url).pathname}`));
    const flushed = outbox.flush();
    await t.out(1);
    await outbox.enqueue({ url: '/t2-newer', key: 'profile' });
    await t.answerAll(flushed);
    await t.answerAll(outbox.flush());
    expect(dead).toEqual(['superseded /t2']);
    expect(t.sent).toEqual(['/t0', '/t1', '/t2-newer']);
  });

  it('a newer task with the same key, enqueued by another handle, replaces an older one the delivering handle read ahead: never sent after the newer', async () => {
    const t = gated();
    const store = new MemoryStore();
    const delivering = await open(t, { store });
    const other = await open(t, { store });
    await enqueue(other, 3, { 2: 'profile' });
    const flushed = delivering.flush();
    await t.out(1);
    await other.enqueue({ url: '/t2-newer', key: 'profile', group: 'b' });
    await t.answerAll(Promise.all([flushed, delivering.flush()]));
    expect(t.sent).not.toContain('/t2');
    expect((await delivering.dead.list()).map((d) => [new URL(d.task.url).pathname, d.reason])).toEqual([['/t2', 'superseded']]);
    expect(await delivering.size()).toBe(0);
  });

  it("'drop-oldest' evicts the oldest tasks behind the head in flight, not those just enqueued, and refuses nothing", async () => {
    const t = gated();
    const outbox = await open(t, { limits: { maxTasks: 4, overflow: 'drop-oldest' } });
    await enqueue(outbox, 4);
    const dead: string[] = [];
    outbox.addEventListener('dead', (e) => dead.push(`${e.detail.reason} ${new URL(e.detail.task.url).pathname}`));
    const flushed = outbox.flush();
    await t.out(1);
    await outbox.enqueue({ url: '/new1' });
    await outbox.enqueue({ url: '/new2' });
    expect(dead).toEqual(['evicted /t1', 'evicted /t2']);
    await t.answerAll(flushed);
    await t.answerAll(outbox.flush());
    expect(t.sent).toEqual(['/t0', '/t3', '/new1', '/new2']);
  });

  it("with ordering 'none', a task buffered for a free slot is withdrawn too", async () => {
    const t = gated();
    const outbox = await open(t, { ordering: 'none', concurrency: 1 });
    const ids = await enqueue(outbox, 4);
    const flushed = outbox.flush();
    await t.out(1);
    expect((await outbox.list()).filter((p) => p.state === 'sending')).toHaveLength(1);
    expect(await outbox.remove([ids[1]!, ids[3]!])).toBe(2);
    await t.answerAll(flushed);
    expect(t.sent).toEqual(['/t0', '/t2']);
    expect(await outbox.size()).toBe(0);
  });

  it('a task taken ahead that expires behind its group head in flight is buried then, not when the head answers', async () => {
    const t = gated();
    const outbox = await open(t);
    await outbox.enqueue({ url: '/t0' });
    await outbox.enqueue({ url: '/t1', expiresAt: Date.now() + 150 });
    await outbox.enqueue({ url: '/t2' });
    const dead: string[] = [];
    outbox.addEventListener('dead', (e) => dead.push(`${e.detail.reason} ${new URL(e.detail.task.url).pathname}`));
    outbox.start();
    await t.out(1);
    for (let i = 0; i < 200 && dead.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(dead).toEqual(['expired /t1']);
    expect(await t.out(1)).toEqual(['/t0']);
    t.answer();
    await t.out(1);
    t.answer();
    for (let i = 0; i < 200 && (await outbox.size()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(t.sent).toEqual(['/t0', '/t2']);
    expect(await outbox.size()).toBe(0);
  });

  it('a withdrawal whose removal fails leaves the task pending, and its group goes on in order', async () => {
    // The queue's commits after `failAfter(n)`: n go through (the recall's release), the next fails (the removal).
    let pass: number | undefined;
    const store = new MemoryStore();
    const openStorage = store.open.bind(store);
    store.open = async (name) => {
      const storage = await openStorage(name);
      const commit = storage.commit.bind(storage);
      if (name === 'api') storage.commit = (token, batch) => (pass !== undefined && pass-- === 0 ? ((pass = undefined), Promise.reject(new Error('the disk is gone'))) : commit(token, batch));
      return storage;
    };
    const t = gated();
    const outbox = await Outbox.open({ name: 'api', store, baseUrl: 'http://127.0.0.1:59', fetch: t.fetch });
    opened.push(outbox);
    const ids = await enqueue(outbox, 4);
    const flushed = outbox.flush();
    await t.out(1);
    pass = 1;
    await expect(outbox.remove([ids[1]!])).rejects.toThrow('the disk is gone');
    t.answer();
    await t.answerAll(flushed);
    await t.answerAll(outbox.flush());
    // Taken back from the chain, not removed: sent after all, after the head and before those behind it.
    expect(t.sent).toEqual(['/t0', '/t1', '/t2', '/t3']);
    expect(await outbox.size()).toBe(0);
  });
});

describe('remove() of a task another handle took ahead (a page while its service worker delivers)', () => {
  /** Handle `a` delivers (gated); `b` on the same store only asks, as a page beside the worker delivering would. */
  async function pair(extra: Partial<OutboxOptions> = {}) {
    const t = gated();
    const store = new MemoryStore();
    const a = await Outbox.open({ name: 'api', store, baseUrl: 'http://127.0.0.1:59', fetch: t.fetch, ...extra });
    const b = await Outbox.open({ name: 'api', store, baseUrl: 'http://127.0.0.1:59', fetch: () => Promise.reject(new Error('b never sends')) });
    opened.push(a, b);
    return { t, a, b, store };
  }

  it('is asked of the handle holding it, which removes it: never sent; one whose request is out is left to it', async () => {
    const { t, a, b } = await pair();
    const ids = await enqueue(b, 5);
    const flushed = a.flush();
    expect(await t.out(1)).toEqual(['/t0']);
    expect(await b.remove([ids[2]!, ids[3]!])).toBe(2);
    expect(await b.remove([ids[0]!])).toBe(0);
    const run = await t.answerAll(flushed);
    expect(t.sent).toEqual(['/t0', '/t1', '/t4']);
    expect(run).toMatchObject({ sent: 3, remaining: 0 });
    expect(await a.size()).toBe(0);
    expect(await b.list()).toEqual([]);
  });

  it("with ordering 'none', a task the other handle buffered for a free slot is removed too", async () => {
    const { t, a, b } = await pair({ ordering: 'none', concurrency: 1 });
    const ids = await enqueue(b, 4);
    const flushed = a.flush();
    await t.out(1);
    expect(await b.remove([ids[1]!, ids[3]!])).toBe(2);
    await t.answerAll(flushed);
    expect(t.sent).toEqual(['/t0', '/t2']);
  });

  it('removes one that a holder which never answers gives back while the ask waits', async () => {
    const { b, store } = await pair();
    const ids = await enqueue(b, 2);
    // A lease of a handle that hears nothing (another process, say): it takes both, and gives back the first soon after.
    const raw = await Queue.open<unknown>({ ...outboxQueue, name: 'api', store });
    const lease = (await raw.take(2))!;
    const asked = b.remove([ids[0]!, ids[1]!]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await lease.release([lease.entries[0]!.id]);
    // As a holder that gives tasks back says so (and one of an earlier version answers no ask).
    const channel = new BroadcastChannel(`sluice-outbox:${store.scope}:api`);
    channel.postMessage([{ type: 'released', detail: { entries: [lease.entries[0]!.id] } }]);
    channel.close();
    expect(await asked).toBe(1);
    expect((await raw.list()).map((e) => e.state)).toEqual(['leased']);
    await raw.close();
  });
});

describe('a task that a newer one with its key replaces while its request is out', () => {
  /** A transport that holds the first request to `slow` until `fail()` answers it 503; every other request: 200. */
  function holding(slow: string) {
    const sent: string[] = [];
    let fail: (() => void) | undefined;
    const fetch = (async (input: RequestInfo | URL) => {
      const path = new URL(String(input)).pathname;
      sent.push(path);
      if (path === slow && !sent.slice(0, -1).includes(slow)) {
        await new Promise<void>((resolve) => (fail = resolve));
        return new Response(null, { status: 503 });
      }
      return new Response(null, { status: 200 });
    }) as typeof globalThis.fetch;
    gates.push(() => fail?.());
    return { fetch, sent, fail: () => fail!() };
  }

  for (const shared of [false, true]) {
    it(`is not retried after it fails: dead as 'superseded', the newer data not overwritten (${shared ? 'enqueued by another handle' : 'one handle'})`, async () => {
      const t = holding('/old');
      const store = new MemoryStore();
      const outbox = await Outbox.open({ name: 'api', store, baseUrl: 'http://127.0.0.1:59', fetch: t.fetch });
      opened.push(outbox);
      const other = shared ? await Outbox.open({ name: 'api', store, baseUrl: 'http://127.0.0.1:59', fetch: t.fetch }) : outbox;
      if (shared) opened.push(other);
      await outbox.enqueue({ url: '/old', key: 'profile', group: 'a' });
      const flushed = outbox.flush();
      for (let i = 0; i < 200 && t.sent.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      await other.enqueue({ url: '/new', key: 'profile', group: 'b' });
      const second = outbox.flush();
      for (let i = 0; i < 200 && !t.sent.includes('/new'); i++) await new Promise((resolve) => setTimeout(resolve, 5));
      t.fail();
      await Promise.all([flushed, second]);
      await outbox.flush();
      expect(t.sent).toEqual(['/old', '/new']);
      expect((await outbox.dead.list()).map((d) => [new URL(d.task.url).pathname, d.reason, d.status])).toEqual([['/old', 'superseded', 503]]);
      expect(await outbox.size()).toBe(0);
    });
  }

  it('with partitions, where the newer one may take a lower entry id in another partition', async () => {
    const t = holding('/old');
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'http://127.0.0.1:59', fetch: t.fetch, partitions: 2, ordering: 'none' });
    opened.push(outbox);
    // Pushes go round the partitions: the older one in the second, the newer one back in the first.
    await outbox.enqueue({ url: '/filler' });
    const old = await outbox.enqueue({ url: '/old', key: 'profile' });
    const flushed = outbox.flush();
    for (let i = 0; i < 200 && !t.sent.includes('/old'); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const newer = await outbox.enqueue({ url: '/new', key: 'profile' });
    const second = outbox.flush();
    for (let i = 0; i < 200 && !t.sent.includes('/new'); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    t.fail();
    await Promise.all([flushed, second]);
    await outbox.flush();
    expect(t.sent.filter((p) => p !== '/filler')).toEqual(['/old', '/new']);
    expect((await outbox.dead.list()).map((d) => [d.task.id, d.reason])).toEqual([[old, 'superseded']]);
    expect(newer).not.toBe(old);
  });
});
