import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../src/index.js';
import { IndexedDbStore } from '../../src/indexeddb.js';
import { CHUNK } from '../../src/outbox/body-store.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { PendingStore } from '../../src/outbox/pending-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { failingCommit, next, rig, type Rig } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe('connectivity', () => {
  it('goes offline on a network error and then sends at most one probe at a time, spaced by backoff', async () => {
    await r.reopen({ ordering: 'none', concurrency: 4 });
    await r.server.down();
    await r.outbox.enqueueMany(Array.from({ length: 8 }, (_, i) => ({ url: `/t${i}` })));
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    expect(r.events('offline')).toHaveLength(1);
    const afterFirst = r.calls.length;
    expect(afterFirst).toBeLessThanOrEqual(4);
    // Every retry delay has passed: still, while offline, one probe per flush and none before the probe time.
    r.clock.advance(60_000);
    await r.outbox.flush();
    expect(r.calls.length).toBe(afterFirst + 1);
    await r.outbox.flush();
    expect(r.calls.length).toBe(afterFirst + 1);
    // The server comes back: the next probe succeeds, the outbox is online, and the rest goes.
    await r.server.up();
    r.clock.advance(300_000);
    const result = await r.outbox.flush();
    expect(r.outbox.online).toBe(true);
    expect(r.events('online')).toHaveLength(1);
    expect(result.remaining).toBe(0);
    expect(r.server.delivered).toHaveLength(8);
  });

  it('with lanes (ordering group) and tasks in many groups, a probe is one task, not the head of every group; the gap grows one step a probe', async () => {
    await r.reopen({ retry: { initialDelayMs: 1000, maxDelayMs: 300_000 } });
    await r.server.down();
    await r.outbox.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ url: `/t${i}`, group: `g${i}` })));
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    const afterFirst = r.calls.length;
    const probes: number[] = [];
    for (let i = 0; i < 4; i++) {
      r.clock.advance(60_000);
      const before = r.calls.length;
      await r.outbox.flush();
      probes.push(r.calls.length - before);
    }
    expect(probes).toEqual([1, 1, 1, 1]);
    // The server back: the next probe finds it within the backoff of a few failures, not the longest one.
    await r.server.up();
    r.clock.advance(60_000);
    const result = await r.outbox.flush();
    expect(r.outbox.online).toBe(true);
    expect(result.remaining).toBe(0);
    expect(r.server.delivered).toHaveLength(30);
    expect(afterFirst).toBeLessThanOrEqual(4);
  });

  it('with a retry policy of no delay, probes while offline are still spaced (no storm of doomed requests)', async () => {
    await r.reopen({ retry: { initialDelayMs: 0, maxDelayMs: 0 } });
    await r.server.down();
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    expect(r.outbox.online).toBe(false);
    const afterFirst = r.calls.length;
    for (let i = 0; i < 5; i++) await r.outbox.flush();
    expect(r.calls.length).toBe(afterFirst);
    r.clock.advance(1000);
    await r.outbox.flush();
    expect(r.calls.length).toBe(afterFirst + 1);
  });

  it('treats a connection reset as a network error, retried', async () => {
    r.server.next({ reset: true });
    await r.outbox.enqueue({ url: '/x' });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
    expect(r.events('retry')[0]!.error).toBeDefined();
    r.clock.advance(300_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.outbox.online).toBe(true);
  });

  it('setOnline(false) stops every send until setOnline(true)', async () => {
    await r.outbox.enqueue({ url: '/x' });
    r.outbox.setOnline(false);
    expect(r.outbox.online).toBe(false);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
    expect(r.calls).toHaveLength(0);
    r.outbox.setOnline(true);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.events('offline')).toHaveLength(1);
    expect(r.events('online')).toHaveLength(1);
  });

  it("setOnline(false) while a group's chain is in flight: no later request of the chain starts", async () => {
    r.server.next({ status: 200, delayMs: 200 });
    await r.outbox.enqueueMany([1, 2, 3].map((n) => ({ url: `/t${n}`, group: 'g' })));
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    r.outbox.setOnline(false);
    expect(await flushing).toMatchObject({ sent: 1, remaining: 2 });
    expect(r.calls).toHaveLength(1);
    r.outbox.setOnline(true);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
  });

  it('setOnline refuses anything but a boolean, changing nothing', () => {
    for (const value of [0, 'false', undefined, null]) {
      expect(() => r.outbox.setOnline(value as never), String(value)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
    expect(r.outbox.online).toBe(true);
  });

  it('follows injected online/offline hints, and probes when told online', async () => {
    const target = Object.assign(new EventTarget(), { navigator: { onLine: false } });
    const { eventConnectivity } = await import('../../src/outbox/connectivity.js');
    await r.reopen({ connectivity: eventConnectivity(target) });
    expect(r.outbox.online).toBe(false);
    await r.outbox.enqueue({ url: '/x' });
    r.outbox.start();
    const sent = next(r.outbox, 'sent');
    target.navigator.onLine = true;
    target.dispatchEvent(new Event('online'));
    await sent;
    expect(r.outbox.online).toBe(true);
  });
});

describe('connectivity hints', () => {
  /** Lets the outbox run (real I/O, fake time) until `done`, or gives up after 5 s: the fake time never moves here. */
  const until = async (done: () => boolean) => {
    for (const end = Date.now() + 5000; !done() && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(done()).toBe(true);
  };

  it("an 'online' event probes at once with a task a network failure holds back, and the rest go once it is sent", async () => {
    const target = Object.assign(new EventTarget(), { navigator: { onLine: true } });
    const { eventConnectivity } = await import('../../src/outbox/connectivity.js');
    await r.reopen({ connectivity: eventConnectivity(target), ordering: 'none', retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    await r.server.down();
    await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
    r.outbox.start();
    await until(() => r.events('retry').length === 2);
    expect(r.outbox.online).toBe(false);
    // A hint, not trusted blindly: while the network is still gone, one task goes as a probe, the other keeps waiting.
    target.dispatchEvent(new Event('online'));
    await until(() => r.events('retry').length === 3);
    expect(r.calls).toHaveLength(3);
    await r.server.up();
    // The browser sees the network come back long before either retry's minute is up.
    target.dispatchEvent(new Event('online'));
    await until(() => r.server.delivered.length === 2);
    expect(r.server.delivered.map((x) => x.path).sort()).toEqual(['/a', '/b']);
    // The acks of responses that came together are held back a moment (on the clock) to commit together.
    r.clock.advance(50);
    await until(() => r.events('sent').length === 2);
    await r.outbox.stop();
  });

  it('setOnline(true) lets the tasks a network failure holds back go at once (Node, which has no online events)', async () => {
    await r.reopen({ retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    await r.server.down();
    await r.outbox.enqueue({ url: '/a' });
    r.outbox.start();
    await until(() => r.events('retry').length === 1);
    await r.server.up();
    r.outbox.setOnline(true);
    await until(() => r.events('sent').length === 1);
    await r.outbox.stop();
  });
});

describe('Outbox.fetch()', () => {
  it('returns the network response when there is one, even a 500', async () => {
    r.server.next({ status: 500, body: 'nope' });
    const response = await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('nope');
    expect(await r.outbox.size()).toBe(0);
  });

  it('queues on a network error and resolves 202 with Sluice-Queued; the retry carries the same key', async () => {
    await r.server.down();
    const response = await r.outbox.fetch(new Request(`${r.server.url}/later`, { method: 'POST', body: 'payload' }));
    expect(response.status).toBe(202);
    const id = response.headers.get('Sluice-Queued');
    expect(id).toBeTruthy();
    await r.server.up();
    r.clock.advance(300_000);
    await r.outbox.flush();
    expect(r.server.received).toMatchObject([{ path: '/later', key: id }]);
    expect(r.server.received[0]!.body.toString()).toBe('payload');
  });
});

describe('Outbox.start() and stop()', () => {
  it('delivers in the background: now, on enqueue, and when a retry delay ends on the clock', async () => {
    r.outbox.start();
    r.server.next({ status: 503 });
    const retried = next(r.outbox, 'retry');
    await r.outbox.enqueue({ url: '/a' });
    await retried;
    const sent = next(r.outbox, 'sent');
    const drained = next(r.outbox, 'drained');
    // Let the idle loop set its timer, then move time to it.
    while (r.clock.pending === 0) await new Promise((resolve) => setImmediate(resolve));
    r.clock.advance(500);
    await sent;
    await drained;
    const drainedAgain = next(r.outbox, 'drained');
    await r.outbox.enqueue({ url: '/b' });
    await drainedAgain;
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/a', '/b']);
    await r.outbox.stop();
    await r.outbox.enqueue({ url: '/c' });
    expect(await r.outbox.size()).toBe(1);
  });

  it('stop() waits for requests in flight', async () => {
    await r.reopen({ timeoutMs: 1000 });
    r.server.next({ hang: true });
    r.outbox.start();
    await r.outbox.enqueue({ url: '/slow' });
    await r.server.waitFor(1);
    let stopped = false;
    const stopping = r.outbox.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    r.clock.advance(1000);
    await stopping;
    expect(r.events('retry')).toHaveLength(1);
  });

  it('a flush called just before stop() starts nothing after it: stop ends a flush still reading what others stored', async () => {
    await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }, { url: '/c' }]);
    const flushing = r.outbox.flush();
    await r.outbox.stop();
    expect(await flushing).toMatchObject({ sent: 0, remaining: 3 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.server.received).toEqual([]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 3, remaining: 0 });
  });

  it('a flush called just before close() sends nothing once close resolved, and no error comes after it', async () => {
    await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }, { url: '/c' }]);
    const flushing = r.outbox.flush().catch((error: unknown) => error);
    await r.outbox.close();
    const closedAt = r.events('error').length;
    expect(await flushing).toMatchObject({ sent: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.server.received).toEqual([]);
    expect(r.events('error')).toHaveLength(closedAt);
    const again = await r.open();
    expect(await again.size()).toBe(3);
    await again.close();
  });

  it("a close as a flush ends (from its last 'sent' listener, as a SIGTERM handler can) lets the flush say what it did", async () => {
    await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }, { url: '/c' }]);
    let closing: Promise<void> | undefined;
    r.outbox.addEventListener('sent', () => (closing ??= r.events('sent').length === 3 ? r.outbox.close() : undefined));
    // Before, the flush rejected ERR_CLOSED naming the queue under the outbox, every task sent.
    expect(await r.outbox.flush()).toMatchObject({ sent: 3, remaining: 0 });
    await closing;
  });

  it('close() lets enqueues under way end first: a body being stored is given up and what it wrote deleted', async () => {
    const store = new IndexedDbStore({ indexedDB: new IDBFactory(), dbName: 'bodies-at-close' });
    const outbox = await Outbox.open({ name: 'api', store, baseUrl: r.server.url });
    const watcher = await Queue.open({ ...outboxQueue, name: 'api', store });
    // Bodies of 3 MiB, written a chunk at a time: the close comes once the first chunk is in, the rest being written.
    const enqueues = Array.from({ length: 5 }, (_, i) =>
      outbox.enqueue({ url: `/b${i}`, method: 'POST', body: new Uint8Array(12 * CHUNK).fill(i) }).then(
        () => 'stored',
        (error: { code?: string }) => error.code,
      ),
    );
    while ((await watcher.blobs!.keys()).length < 1) await new Promise((resolve) => setTimeout(resolve, 1));
    await outbox.close();
    const outcomes = await Promise.all(enqueues);
    expect(outcomes).toContain('ERR_CLOSED');
    expect(outcomes.every((o) => o === 'stored' || o === 'ERR_CLOSED')).toBe(true);
    // Before, the queues closed under the deletions of what they had written (3 MiB each, kept until a sweep a day later).
    const stored = outcomes.filter((o) => o === 'stored').length;
    expect((await watcher.blobs!.keys()).length).toBe(stored);
    expect(await watcher.size()).toBe(stored);
    await watcher.close();
  });

  it('close() does not wait for an enqueue of a Request whose body never ends: the enqueue rejects ERR_CLOSED', async () => {
    const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array(10)) });
    const enqueue = r.outbox.enqueue(new Request(`${r.server.url}/x`, { method: 'POST', body, duplex: 'half' } as RequestInit)).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await r.outbox.close();
    expect(await enqueue).toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('close() rejects later calls with ERR_CLOSED; asyncDispose closes', async () => {
    await r.outbox.close();
    await expect(r.outbox.enqueue({ url: '/x' })).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    {
      await using box = await r.open();
      await box.enqueue({ url: '/y' });
    }
    // Named as the outbox, not as the queue under it, its dead letters' too.
    const closed = { code: 'ERR_CLOSED', message: expect.stringMatching(/^Outbox "api" is closed/) };
    await expect(r.outbox.size()).rejects.toMatchObject(closed);
    for (const call of [() => r.outbox.dead.list(), () => r.outbox.dead.size(), () => r.outbox.dead.retry(), () => r.outbox.dead.purge()]) await expect(call()).rejects.toMatchObject(closed);
  });
});

describe('Outbox.flush({ signal })', () => {
  /**
   * Aborts a flush of `total` tasks once the server has `started` requests, each answered after 60 ms; resolves how
   * many requests were made, once those started have been acked.
   */
  const abortAfter = async (started: number, total: number) => {
    r.server.script(() => ({ delayMs: 60 }));
    const controller = new AbortController();
    const flushed = r.outbox.flush({ signal: controller.signal });
    await r.server.waitFor(started);
    controller.abort();
    await expect(flushed).rejects.toMatchObject({ name: 'AbortError' });
    // Long enough for the requests in flight to settle, and for any started after the abort to reach the server.
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Their acks wait a moment to be committed together: on the rig's clock.
    r.clock.advance(1_000);
    await vi.waitFor(async () => expect(await r.outbox.size()).toBe(total - started));
    return r.calls.length;
  };

  it("ends a group's chain at the abort: the request in flight settles, and none of the rest is sent", async () => {
    await r.outbox.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ url: `/t${i}`, group: 'g' })));
    expect(await abortAfter(1, 6)).toBe(1);
  });

  it("with ordering 'none', starts nothing in the slots that free after the abort", async () => {
    await r.reopen({ ordering: 'none', concurrency: 2 });
    await r.outbox.enqueueMany(Array.from({ length: 8 }, (_, i) => ({ url: `/t${i}` })));
    expect(await abortAfter(2, 8)).toBe(2);
  });
});

describe('Outbox.dead', () => {
  it('retry() puts dead tasks back with their ids; purge() deletes them', async () => {
    r.server.next({ status: 400 }, { status: 400 });
    const [a, b] = await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
    await r.outbox.flush();
    const letters = await r.outbox.dead.list();
    expect(letters.map((l) => l.task.id)).toEqual([a, b]);
    const enqueued = r.events('enqueue').length;
    expect(await r.outbox.dead.retry([letters[0]!.id])).toBe(1);
    // Stored again as an enqueue stores (a service worker's backgroundSync registers its sync on it).
    expect(r.events('enqueue').slice(enqueued)).toEqual([{ ids: [a] }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.server.received.at(-1)!.key).toBe(a);
    expect(await r.outbox.dead.purge()).toBe(1);
    expect(await r.outbox.dead.list()).toEqual([]);
  });

  it('a retry and a purge of one letter at once: the letter goes back with its body, or is purged, never half of each', async () => {
    // A body stored beside the task (over 64 KB), which a purge deletes.
    const body = new Uint8Array(100_000).fill(7);
    for (const second of ['purge', 'retry'] as const) {
      r.server.next({ status: 400 });
      await r.outbox.enqueue({ url: `/${second}`, body });
      await r.outbox.flush();
      const [letter] = await r.outbox.dead.list();
      const [retried, other] = await Promise.all([r.outbox.dead.retry([letter!.id]), r.outbox.dead[second]([letter!.id])]);
      expect([retried, other]).toEqual([1, 0]);
      expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
      expect(r.server.received.at(-1)!.body.length).toBe(body.length);
      expect(await r.outbox.dead.size()).toBe(0);
    }
  });

  it('a retry in one handle and a purge in another at once: one of them gets the letter, never both', async () => {
    const body = new Uint8Array(100_000).fill(7);
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/a', body });
    await r.outbox.flush();
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      const [letter] = await r.outbox.dead.list();
      // The retry's push into the outbox is held until the other handle's purge has run.
      const requeue = PendingStore.prototype.push;
      let entered!: () => void;
      let go!: () => void;
      const pushing = new Promise<void>((resolve) => (entered = resolve));
      const gate = new Promise<void>((resolve) => (go = resolve));
      const push = vi.spyOn(PendingStore.prototype, 'push').mockImplementation(async function (this: PendingStore, tasks) {
        entered();
        await gate;
        return requeue.call(this, tasks);
      });
      const retrying = r.outbox.dead.retry([letter!.id]);
      await pushing;
      push.mockRestore();
      const purged = await other.dead.purge([letter!.id]);
      go();
      expect([await retrying, purged]).toEqual([1, 0]);
      expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
      expect(r.server.received.at(-1)!.body.length).toBe(body.length);
      expect(await r.outbox.dead.size()).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('a retry that fails to store the tasks again leaves the letters as they were: a second retry puts them back', async () => {
    r.server.next({ status: 400 });
    const id = await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    const failing = vi.spyOn(PendingStore.prototype, 'push').mockRejectedValueOnce(new Error('disk full'));
    try {
      await expect(r.outbox.dead.retry()).rejects.toThrow('disk full');
    } finally {
      failing.mockRestore();
    }
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id } }]);
    expect(await r.outbox.dead.retry()).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(await r.outbox.dead.size()).toBe(0);
  });

  it('a task is never both pending and dead after a crash between the two steps of a burial', async () => {
    // Simulate the crash: the dead record is written, the pending task not yet removed.
    const id = await r.outbox.enqueue({ url: '/x' });
    const { Queue } = await import('../../src/core/queue.js');
    const graveyard = await Queue.open({ ...outboxQueue, name: 'api.dead', store: r.store, clock: r.clock });
    const [pending] = await (await Queue.open<{ id: string; createdAt: number }>({ ...outboxQueue, name: 'api', store: r.store, clock: r.clock })).list();
    await graveyard.push({ task: pending!.value, reason: 'status', status: 400, attempts: 1, at: r.clock.now(), from: pending!.id });
    await graveyard.close();
    await r.reopen();
    expect(await r.outbox.size()).toBe(0);
    expect((await r.outbox.dead.list()).map((l) => l.task.id)).toEqual([id]);
  });

  it('a task and a dead letter that share an id (a key used again) both outlive a reopen', async () => {
    // One request goes dead; the same Idempotency-Key is enqueued again for another, before and after the burial.
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/a', id: 'order-17' });
    await r.outbox.enqueue({ url: '/b', id: 'order-17', notBefore: r.clock.now() + 60_000 });
    expect(await r.outbox.flush()).toMatchObject({ dead: 1 });
    await r.outbox.enqueue({ url: '/c', id: 'order-17', notBefore: r.clock.now() + 60_000 });
    await r.reopen();
    expect((await r.outbox.list()).map((t) => t.url.slice(-2))).toEqual(['/b', '/c']);
    expect((await r.outbox.dead.list()).map((l) => l.task.url.slice(-2))).toEqual(['/a']);
    // A retry of the letter puts it back beside them; all three go.
    await r.outbox.dead.retry();
    await r.reopen();
    r.clock.advance(60_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 3, dead: 0 });
    expect(await r.outbox.dead.size()).toBe(0);
  });

  it('a retried dead letter is never lost to a crash between its two steps', async () => {
    r.server.next({ status: 400 });
    const id = await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    // Simulate the crash: the task is back in the outbox (stamped after its burial, naming its letter), the letter
    // still there.
    const { Queue } = await import('../../src/core/queue.js');
    const [letter] = await r.outbox.dead.list();
    await r.outbox.close();
    const queue = await Queue.open({ ...outboxQueue, name: 'api', store: r.store, clock: r.clock });
    const graveyard = await Queue.open<{ task: object; at: number }>({ ...outboxQueue, name: 'api.dead', store: r.store, clock: r.clock });
    const [record] = await graveyard.list();
    await queue.push({ ...record!.value.task, createdAt: record!.value.at + 1, retriedFrom: record!.id });
    await Promise.all([queue.close(), graveyard.close()]);
    await r.open();
    expect(await r.outbox.dead.list()).toEqual([]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.server.received.at(-1)!.key).toBe(id);
    expect(letter!.task.id).toBe(id);
  });
});

describe('limits', () => {
  it("'reject' refuses what does not fit with ERR_QUOTA_EXCEEDED and stores none of it", async () => {
    await r.reopen({ limits: { maxTasks: 2 } });
    await r.outbox.enqueueMany([{ url: '/1' }, { url: '/2' }]);
    await expect(r.outbox.enqueue({ url: '/3' })).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    expect(await r.outbox.size()).toBe(2);
  });

  it("'reject': the ERR_QUOTA_EXCEEDED message says what the caller can do", async () => {
    await r.reopen({ limits: { maxTasks: 1 } });
    await r.outbox.enqueue({ url: '/1' });
    await expect(r.outbox.enqueue({ url: '/2' })).rejects.toMatchObject({
      message: expect.stringContaining("enqueue again once tasks are sent, raise `limits`, or set `limits.overflow` to 'drop-oldest'"),
    });
  });

  it("'drop-oldest' evicts the oldest to dead as 'evicted', with an event", async () => {
    await r.reopen({ limits: { maxTasks: 2, overflow: 'drop-oldest' } });
    const [first] = await r.outbox.enqueueMany([{ url: '/1' }, { url: '/2' }]);
    await r.outbox.enqueue({ url: '/3' });
    expect(await r.outbox.size()).toBe(2);
    expect(r.events('dead')).toMatchObject([{ reason: 'evicted', task: { id: first } }]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'evicted' }]);
  });

  it("'drop-oldest' never evicts a task in flight: with no other to make room, the enqueue is refused, and the message does not offer 'drop-oldest'", async () => {
    await r.reopen({ limits: { maxTasks: 1, overflow: 'drop-oldest' }, timeoutMs: 1000 });
    r.server.next({ hang: true });
    r.outbox.start();
    await r.outbox.enqueue({ url: '/slow' });
    await r.server.waitFor(1);
    const refused = (await r.outbox.enqueue({ url: '/2' }).catch((error: unknown) => error)) as Error;
    expect(refused).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED', message: expect.stringContaining('is not evicted from under its request') });
    expect(refused.message).not.toContain("to 'drop-oldest'");
    expect(r.events('dead')).toEqual([]);
    r.clock.advance(1000);
    await r.outbox.stop();
    expect(await r.outbox.size()).toBe(1);
  });

  it("dead.retry() keeps to them as an enqueue does: 'reject' refuses it whole (ERR_QUOTA_EXCEEDED), every letter stays dead", async () => {
    await r.reopen({ limits: { maxTasks: 2 } });
    r.server.next({ status: 400 }, { status: 400 });
    await r.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
    expect(await r.outbox.flush()).toMatchObject({ dead: 2 });
    await r.outbox.enqueue({ url: '/c', notBefore: r.clock.now() + 60_000 });
    await expect(r.outbox.dead.retry()).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    expect(await r.outbox.size()).toBe(1);
    expect(await r.outbox.dead.size()).toBe(2);
    // One fits: named, it goes back.
    const [first] = await r.outbox.dead.list();
    expect(await r.outbox.dead.retry([first!.id])).toBe(1);
    expect(await r.outbox.size()).toBe(2);
    expect(await r.outbox.dead.size()).toBe(1);
  });

  it("dead.retry() with 'drop-oldest' evicts the oldest pending tasks to make room, as an enqueue does", async () => {
    await r.reopen({ limits: { maxTasks: 2, overflow: 'drop-oldest' } });
    r.server.next({ status: 400 });
    const dead = await r.outbox.enqueue({ url: '/a' });
    expect(await r.outbox.flush()).toMatchObject({ dead: 1 });
    const later = r.clock.now() + 60_000;
    const [oldest] = await r.outbox.enqueueMany([{ url: '/b', notBefore: later }, { url: '/c', notBefore: later }]);
    expect(await r.outbox.dead.retry()).toBe(1);
    expect((await r.outbox.list()).map((t) => t.url.slice(-2))).toEqual(['/c', '/a']);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'evicted', task: { id: oldest } }]);
    expect(r.events('dead').at(-1)).toMatchObject({ reason: 'evicted', task: { id: oldest } });
    expect((await r.outbox.list()).at(-1)!.id).toBe(dead);
  });

  it('maxBytes counts stored bytes', async () => {
    await r.reopen({ limits: { maxBytes: 2000 } });
    await r.outbox.enqueue({ url: '/1', body: 'x'.repeat(500) });
    await expect(r.outbox.enqueue({ url: '/2', body: 'x'.repeat(2000) })).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
  });

  it('maxBytes counts bytes of UTF-8, not characters', async () => {
    await r.reopen({ limits: { maxBytes: 2000 } });
    await r.outbox.enqueue({ url: '/1', body: 'x'.repeat(500) });
    // 500 characters, 1 500 bytes: over the budget with the first.
    await expect(r.outbox.enqueue({ url: '/2', body: { s: '漢'.repeat(500) } })).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
  });
});

describe('several handles', () => {
  it("relays 'sent' and 'dead' to the other open handles", async () => {
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      const relayed = next<{ remote: boolean; task: { id: string } }>(other, 'sent');
      const id = await r.outbox.enqueue({ url: '/x' });
      await r.outbox.flush();
      expect(await relayed).toMatchObject({ remote: true, task: { id } });
    } finally {
      await other.close();
    }
  });

  /**
   * A store whose outbox queue runs `between` once, right after the commit that follows its setting: the enqueue that
   * replaces or evicts a task stores the new one, and another handle acts before the old one leaves.
   */
  const racing = () => {
    const race = { store: new MemoryStore(), between: undefined as (() => Promise<void>) | undefined };
    const open = race.store.open.bind(race.store);
    race.store.open = async (name) => {
      const storage = await open(name);
      const commit = storage.commit.bind(storage);
      if (name === 'api') {
        storage.commit = async (token, batch) => {
          const committed = await commit(token, batch);
          const run = race.between;
          race.between = undefined;
          await run?.();
          return committed;
        };
      }
      return storage;
    };
    return race;
  };

  it('a task superseded just as another handle takes it stays theirs: not buried, no dead event', async () => {
    const race = racing();
    await r.reopen({ store: race.store });
    const { Queue } = await import('../../src/core/queue.js');
    const other = await Queue.open<{ url: string }>({ ...outboxQueue, name: 'api', store: race.store, clock: r.clock });
    try {
      await r.outbox.enqueue({ url: '/old', key: 'k' });
      let taken: string[] = [];
      race.between = async () => {
        taken = ((await other.take(1))?.entries ?? []).map((e) => e.value.url.slice(-4));
      };
      await r.outbox.enqueue({ url: '/new', key: 'k' });
      expect(taken).toEqual(['/old']);
      expect(await r.outbox.dead.list()).toEqual([]);
      expect(r.events('dead')).toEqual([]);
      expect(await r.outbox.size()).toBe(2);
    } finally {
      await other.close();
    }
  });

  it('a task evicted just as another handle sends it is not buried: no dead letter for dead.retry() to send again', async () => {
    const race = racing();
    await r.reopen({ store: race.store, limits: { maxTasks: 1, overflow: 'drop-oldest' } });
    const { Queue } = await import('../../src/core/queue.js');
    const other = await Queue.open<{ url: string }>({ ...outboxQueue, name: 'api', store: race.store, clock: r.clock });
    try {
      await r.outbox.enqueue({ url: '/old' });
      let sent: string[] = [];
      race.between = async () => {
        const lease = await other.take(1);
        await lease?.ack();
        sent = (lease?.entries ?? []).map((e) => e.value.url.slice(-4));
      };
      await r.outbox.enqueue({ url: '/new' });
      expect(sent).toEqual(['/old']);
      expect(await r.outbox.dead.list()).toEqual([]);
      expect(r.events('dead')).toEqual([]);
      expect(await r.outbox.size()).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('an enqueue whose tasks are stored resolves though burying the task it supersedes fails: an error event says so', async () => {
    const { store, arm } = failingCommit('api.dead');
    await r.reopen({ store });
    await r.outbox.enqueue({ url: '/old', key: 'k' });
    arm();
    // Rejected, the caller would take the task for not stored, and enqueue it again: sent twice.
    await expect(r.outbox.enqueue({ url: '/new', key: 'k', id: 'new' })).resolves.toBe('new');
    expect(r.events('error')).toMatchObject([{ error: { message: expect.stringMatching(/disk is gone/) } }]);
    expect((await r.outbox.list()).map((t) => t.url.slice(-4))).toContain('/new');
  });

  it('a relayed send takes out of the other handle only the task sent, not another with the same id', async () => {
    const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
    try {
      await r.outbox.enqueue({ url: '/a', id: 'order-17', group: 'later', notBefore: r.clock.now() + 60_000 });
      await r.outbox.enqueue({ url: '/b', id: 'order-17' });
      expect((await other.list()).map((t) => t.url.slice(-2))).toEqual(['/a', '/b']);
      const relayed = next(other, 'sent');
      expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
      await relayed;
      expect((await other.list()).map((t) => t.url.slice(-2))).toEqual(['/a']);
    } finally {
      await other.close();
    }
  });
});

describe('reopened with tasks left', () => {
  it("says 'drained' once the tasks an earlier session left are delivered", async () => {
    const store = new MemoryStore();
    const first = await Outbox.open({ name: 'left', store, fetch: async () => new Response(null, { status: 503 }) });
    await first.enqueue({ url: 'https://api.example.test/x' });
    await first.close();
    const again = await Outbox.open({ name: 'left', store, fetch: async () => new Response(null, { status: 200 }) });
    const drained = new Promise<void>((resolve) => again.addEventListener('drained', () => resolve(), { once: true }));
    const result = await again.flush();
    expect(result.sent).toBe(1);
    await drained;
    await again.close();
  });
});
