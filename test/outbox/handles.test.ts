// Several handles of one outbox over one store (tabs, a worker, processes): every task any of them stores is seen,
// listed and delivered once, whichever handle stored it and however their commits interleave.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import type { Outbox } from '../../src/outbox/outbox.js';
import { FileStore } from '../../src/stores/fs/file-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FakeClock } from '../support/fake-clock.js';
import { handlesOf, hearingNothing } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

const shared = handlesOf('handles');
const open = shared.open;

describe('.enqueue() from several handles', () => {
  it('every handle lists every task stored, whichever handle stored it and in whatever order they commit', async () => {
    const store = new MemoryStore();
    const handles = await Promise.all(Array.from({ length: 4 }, () => open(store)));
    const ids = (
      await Promise.all(
        Array.from({ length: 60 }, (_, n) => handles[n % 4]!.enqueueMany([{ url: `/n/${n}`, group: `g${n % 3}` }, { url: `/m/${n}`, group: `g${n % 3}` }])),
      )
    ).flat();
    // Queue order as stored: what each handle's lanes must follow, wherever it learned a task from.
    const queue = await Queue.open<{ id: string }>({ ...outboxQueue, name: 'handles', store });
    const order = (await queue.list()).map((e) => e.value.id);
    await queue.close();
    expect([...order].sort()).toEqual([...ids].sort());
    for (const handle of handles) expect((await handle.list()).map((t) => t.id)).toEqual(order);
  });

  it.each([1, 4])('a delivering handle sends every task once, each group in order, while three others store more concurrently (partitions: %i)', async (partitions) => {
    const store = new MemoryStore();
    const handles = [];
    for (let i = 0; i < 4; i++) handles.push(await open(store, { partitions }));
    const [delivering, ...others] = handles as [Outbox, ...Outbox[]];
    delivering.start();
    const enqueued = await Promise.all(
      Array.from({ length: 120 }, async (_, n) => {
        const handle = n % 4 === 0 ? delivering : others[n % 3]!;
        const [id] = await handle.enqueueMany([{ url: `/g${n % 5}/${n}`, group: `g${n % 5}` }]);
        return { id: id!, group: `g${n % 5}` };
      }),
    );
    await shared.server.waitFor(120);
    for (let i = 0; i < 100 && (await delivering.size()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await delivering.size()).toBe(0);
    const keys = shared.server.delivered.map((r) => r.key!);
    expect([...keys].sort()).toEqual(enqueued.map((e) => e.id).sort());
    // Each handle's enqueues of one group resolve in the order they were stored, so that order is the group's.
    for (let g = 0; g < 5; g++) {
      const stored = enqueued.filter((e) => e.group === `g${g}`).map((e) => e.id);
      const sent = keys.filter((key) => stored.includes(key));
      for (const handle of handles) {
        const own = enqueued.filter((e, n) => e.group === `g${g}` && (n % 4 === 0 ? delivering : others[n % 3]) === handle).map((e) => e.id);
        expect(sent.filter((key) => own.includes(key))).toEqual(own);
      }
    }
    for (const handle of handles) expect(await handle.list()).toEqual([]);
  });
});

describe('coalescing across handles', () => {
  it('a task superseded within its own enqueueMany leaves the stored one of the same id in every handle', async () => {
    const store = new MemoryStore();
    const [storing, delivering] = [await open(store), await open(store)];
    const dead = new Promise((resolve) => storing.addEventListener('dead', resolve, { once: true }));
    await storing.enqueueMany([
      { url: '/doc/1', id: 'save-doc-1', key: 'doc-1', body: { v: 1 } },
      { url: '/doc/1', id: 'save-doc-1', key: 'doc-1', body: { v: 2 } },
    ]);
    await dead;
    // Whatever the storing handle tells the others has reached them.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await delivering.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(shared.server.delivered.map((r) => JSON.parse(r.body.toString()))).toEqual([{ v: 2 }]);
  });
});

describe('delivery from several handles', () => {
  it('every task is delivered once (one 2xx per key) while handles store, deliver, fail and close', async () => {
    let n = 0;
    // Every fifth request fails (a retry), every request takes a moment, so that closing catches some in flight.
    shared.server.script(() => ({ status: ++n % 5 === 0 ? 503 : 200, delayMs: n % 3 }));
    const store = new MemoryStore();
    const options = { retry: { initialDelayMs: 0, maxDelayMs: 5 } };
    const handles = await Promise.all(Array.from({ length: 4 }, () => open(store, options)));
    // Two deliver (Node has no Web Locks: each handle delivers what it takes); the first closes midway.
    handles[0]!.start();
    handles[1]!.start();
    const stored: { id: string; group: string }[] = [];
    const writers = handles.map(async (handle, h) => {
      for (let i = 0; i < 40; i++) {
        if (h === 0 && i === 20) return handle.close();
        const group = `g${(h + i) % 3}`;
        const ids = await handle.enqueueMany([{ url: `/${group}/${h}-${i}`, group }]);
        stored.push({ id: ids[0]!, group });
      }
    });
    await Promise.all(writers);
    for (let i = 0; i < 300 && (await handles[1]!.size()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await handles[1]!.size()).toBe(0);
    const delivered = shared.server.delivered.map((r) => r.key!);
    expect([...delivered].sort()).toEqual(stored.map((s) => s.id).sort());
    for (const handle of handles.slice(1)) expect(await handle.list()).toEqual([]);
  });
});

describe('group order across handles', () => {
  it("a handle does not send a group's next task while another handle has the group's first in flight", async () => {
    shared.server.next({ status: 200, delayMs: 400 });
    const store = new MemoryStore();
    const [a, b] = [await open(store), await open(store)] as [Outbox, Outbox];
    const [first] = await a.enqueueMany([{ url: '/first', group: 'g' }]);
    const flushingA = a.flush();
    await shared.server.waitFor(1);
    const [second] = await b.enqueueMany([{ url: '/second', group: 'g' }]);
    // b's index has the first task ready: its take finds it leased, and the second must wait behind it.
    expect(await b.flush()).toMatchObject({ sent: 0 });
    expect(shared.server.received.map((r) => r.path)).toEqual(['/first']);
    // a's flush goes on to the second once the first is sent; b has nothing left to send.
    await flushingA;
    await b.flush();
    expect(shared.server.delivered.map((r) => r.key)).toEqual([first, second]);
  });
});

describe('a lane whose head another process sent (nothing relayed)', () => {
  it('a running handle whose take finds the head gone sends what was behind it, with nothing else to wake it', () =>
    hearingNothing(async () => {
      const store = new MemoryStore();
      const [a, b] = [await open(store), await open(store)] as [Outbox, Outbox];
      const [head] = await a.enqueueMany([{ url: '/head', group: 'g' }]);
      await b.list();
      expect(await b.flush()).toMatchObject({ sent: 1 });
      // a's index still holds the head, ready, and now the task behind it.
      const [next] = await a.enqueueMany([{ url: '/next', group: 'g' }]);
      a.start();
      await shared.server.waitFor(2);
      expect(shared.server.delivered.map((r) => r.key)).toEqual([head, next]);
    }));
});

describe('remove() across handles', () => {
  it('leaves a task another handle has in flight: its response decides, and it is sent once', async () => {
    shared.server.next({ status: 200, delayMs: 300 });
    const store = new MemoryStore();
    const [a, b] = [await open(store), await open(store)] as [Outbox, Outbox];
    const [inFlight, waiting] = await a.enqueueMany([{ url: '/a', group: 'a' }, { url: '/b', group: 'b' }]);
    await b.list();
    const flushing = a.flush({ reachable: true });
    await shared.server.waitFor(1);
    const first = shared.server.received[0]!.path === '/a' ? inFlight! : waiting!;
    const other = first === inFlight ? waiting! : inFlight!;
    expect(await b.remove([first])).toBe(0);
    await flushing;
    expect(shared.server.delivered.map((r) => r.key)).toContain(first);
    expect(await b.remove([other])).toBe(0);
    expect(await b.list()).toEqual([]);
  });

  it("leaves the body of a task another handle moved to dead meanwhile: the dead letter's retry sends it whole", async () => {
    // Processes: nothing relayed, so the handle that removes still holds the task in its index.
    await hearingNothing(async () => {
      const store = new MemoryStore();
      const [web, worker] = [await open(store), await open(store)];
      const body = new Uint8Array(100_000).fill(7);
      const id = await web.enqueue({ url: '/x', body });
      shared.server.next({ status: 400 });
      expect(await worker.flush()).toMatchObject({ dead: 1 });
      expect(await web.remove([id])).toBe(0);
      expect(await worker.dead.retry()).toBe(1);
      expect(await worker.flush()).toMatchObject({ sent: 1, dead: 0 });
      expect(shared.server.delivered.at(-1)?.body.length).toBe(body.length);
    });
  });
});

describe('retries across handles', () => {
  const retrying = { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 0.5 };

  it("limits: a handle that only enqueues does not count tasks another process sent (no false ERR_QUOTA_EXCEEDED)", async () => {
    await hearingNothing(async () => {
      const store = new MemoryStore();
      const limits = { maxTasks: 3, overflow: 'reject' as const };
      const [web, worker] = [await open(store, { limits }), await open(store, { limits })];
      await web.enqueueMany([{ url: '/a' }, { url: '/b' }, { url: '/c' }]);
      expect(await worker.flush()).toMatchObject({ sent: 3, remaining: 0 });
      await expect(web.enqueue({ url: '/d' })).resolves.toBeTypeOf('string');
      // And what does not fit is still refused.
      await web.enqueueMany([{ url: '/e' }, { url: '/f' }]);
      await expect(web.enqueue({ url: '/g' })).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
      expect(await web.size()).toBe(3);
    });
  });

  it('limits: handles that enqueue at the same moment may together pass them, by what they enqueue at once; the next enqueue of either is refused', async () => {
    await hearingNothing(async () => {
      const store = new MemoryStore();
      const limits = { maxTasks: 3, overflow: 'reject' as const };
      const [web, worker] = [await open(store, { limits }), await open(store, { limits })];
      // Each checks what it has read of the store, then stores: mostly neither has read the other's yet (on a loaded
      // machine one may have, and is refused: the budget then held, which is allowed too).
      const both = await Promise.allSettled([web.enqueueMany([{ url: '/a' }, { url: '/b' }]), worker.enqueueMany([{ url: '/c' }, { url: '/d' }])]);
      const stored = both.filter((r) => r.status === 'fulfilled').length * 2;
      for (const r of both) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
      expect(stored).toBeGreaterThan(0);
      expect(await web.size()).toBe(stored);
      if (stored === 4) for (const handle of [web, worker]) await expect(handle.enqueue({ url: '/e' })).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
      expect(await worker.size()).toBe(stored);
    });
  });

  it('remove(): a task another process stored since this handle last read the queue is removed, not missed', async () => {
    await hearingNothing(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-handles-'));
      try {
        const [web, worker] = [await open(new FileStore({ dir })), await open(new FileStore({ dir }))];
        const id = await worker.enqueue({ url: '/a' });
        expect(await web.remove([id])).toBe(1);
        expect(await worker.size()).toBe(0);
        await Promise.all([web.close(), worker.close()]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  /** `first` sends the task and is told to wait an hour (429, Retry-After); `second` then flushes and sends nothing. */
  const waitAnHourThenLook = async (first: Outbox, second: Outbox) => {
    shared.server.next({ status: 429, headers: { 'retry-after': '3600' } });
    expect(await first.flush()).toMatchObject({ retried: 1 });
    const before = shared.server.received.length;
    expect(await second.flush()).toMatchObject({ sent: 0, remaining: 1 });
    expect(shared.server.received.length).toBe(before);
  };
  const heard = <T>(target: EventTarget, type: string) => new Promise<T>((resolve) => target.addEventListener(type, (e) => resolve((e as CustomEvent<T>).detail), { once: true }));

  it('a handle that does not deliver hears another retry a task ("retry", "change") and lists it as retrying, with its last status', async () => {
    shared.server.next({ status: 503 });
    const store = new MemoryStore();
    const [delivering, other] = [await open(store, retrying), await open(store, retrying)];
    const id = await other.enqueue({ url: '/x' });
    const [retry, change] = [heard<{ remote?: boolean; status?: number; delayMs: number }>(other, 'retry'), heard(other, 'change')];
    const before = Date.now();
    expect(await delivering.flush()).toMatchObject({ retried: 1 });
    expect(await retry).toMatchObject({ remote: true, status: 503, delayMs: 30_000 });
    await change;
    const [listed] = await other.list();
    expect(listed).toMatchObject({ id, state: 'retrying', attempts: 1, lastStatus: 503 });
    expect(listed!.nextAttemptAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(await other.list({ state: 'retrying' })).toHaveLength(1);
    expect(await other.list({ state: 'ready' })).toEqual([]);
  });

  it('once the wait another handle relayed has ended, a handle lists the task as the store has it: ready, then sending', async () => {
    shared.server.next({ status: 503 }, { hang: true });
    const [store, clock] = [new MemoryStore(), new FakeClock()];
    const [delivering, other] = [await open(store, { ...retrying, clock }), await open(store, { ...retrying, clock })];
    const id = await other.enqueue({ url: '/x' });
    const retry = heard(other, 'retry');
    await delivering.flush();
    await retry;
    expect(await other.list()).toMatchObject([{ id, state: 'retrying', nextAttemptAt: clock.now() + 30_000 }]);
    clock.advance(30_000);
    expect(await other.list()).toMatchObject([{ id, state: 'ready', lastStatus: 503 }]);
    const sending = heard(other, 'change');
    void delivering.flush();
    await shared.server.waitFor(2);
    await sending;
    expect(await other.list()).toMatchObject([{ id, state: 'sending' }]);
    // The fake clock never ends the hanging request: the server drops it.
    await shared.server.down();
  });

  it('a handle that hears nothing (another process) still lists what the store says: retrying until the delay ends, or in flight', async () => {
    // Nothing is relayed: what the handles share is the store.
    await hearingNothing(async () => {
      shared.server.next({ status: 503 });
      const store = new MemoryStore();
      // A request that hangs ends within 3 s, so that closing does not wait long for it.
      const [delivering, other] = [await open(store, { ...retrying, timeoutMs: 3000 }), await open(store, retrying)];
      const [a, b] = await other.enqueueMany([{ url: '/a', group: 'a' }, { url: '/b', group: 'b' }]);
      shared.server.script(() => ({ hang: true }));
      const change = heard(other, 'change');
      delivering.start();
      await shared.server.waitFor(2);
      await change;
      const listed = await other.list();
      expect(listed.map((t) => [t.id, t.state])).toEqual([
        [a, 'retrying'],
        [b, 'sending'],
      ]);
      expect(listed[0]!.nextAttemptAt).toBeGreaterThan(Date.now() + 20_000);
    });
  });

  it("a handle that hears nothing keeps to the delay another set (a Retry-After): it does not send before it", async () => {
    await hearingNothing(async () => {
      const store = new MemoryStore();
      const [first, second] = [await open(store, retrying), await open(store, retrying)];
      const id = await first.enqueue({ url: '/x' });
      // The second handle knows the task, ready, before the first is told to wait an hour.
      expect(await second.list()).toMatchObject([{ id, state: 'ready' }]);
      await waitAnHourThenLook(first, second);
      const [listed] = await second.list();
      expect(listed).toMatchObject({ id, state: 'retrying' });
      expect(listed!.nextAttemptAt).toBeGreaterThan(Date.now() + 3_500_000);
    });
  });

  it('a handle that hears nothing keeps to a delay another set after its own (a Retry-After): its own, ended, does not stand', async () => {
    await hearingNothing(async () => {
      const [store, clock] = [new MemoryStore(), new FakeClock()];
      const [first, second] = [await open(store, { ...retrying, clock }), await open(store, { ...retrying, clock })];
      const id = await second.enqueue({ url: '/x' });
      shared.server.next({ status: 503 });
      expect(await second.flush()).toMatchObject({ retried: 1 });
      clock.advance(30_000);
      // Its own delay over, the second handle has it ready; the first sends it and is told to wait an hour.
      expect(await second.list()).toMatchObject([{ id, state: 'ready' }]);
      await waitAnHourThenLook(first, second);
      expect(await second.list()).toMatchObject([{ id, state: 'retrying', nextAttemptAt: clock.now() + 3_600_000 }]);
    });
  });
});

describe("a message on the outbox's channel is a claim, checked: one stray or forged never strands a stored task", () => {
  /** Posts `messages` on the channel the handles of outbox 'handles' on `store` hear, and lets them hear it. */
  const forge = async (store: MemoryStore, messages: unknown[]) => {
    const channel = new BroadcastChannel(`sluice-outbox:${store.scope}:handles`);
    const heard = new BroadcastChannel(`sluice-outbox:${store.scope}:handles`);
    const arrived = new Promise((resolve) => (heard.onmessage = resolve));
    channel.postMessage(messages);
    await arrived;
    // Every handle's channel got it in the same turn as this one's; what it set off (a read of the store) runs now.
    await new Promise((resolve) => setTimeout(resolve, 20));
    channel.close();
    heard.close();
  };
  /** The entry ids of the tasks stored, in queue order. */
  const entriesOf = async (store: MemoryStore) => {
    const queue = await Queue.open<{ id: string }>({ ...outboxQueue, name: 'handles', store });
    const entries = (await queue.list()).map((e) => ({ entry: e.id, id: e.value.id }));
    await queue.close();
    return entries;
  };
  const sentEvents = (target: EventTarget) => {
    const seen: unknown[] = [];
    target.addEventListener('sent', (e) => seen.push((e as CustomEvent).detail));
    return seen;
  };

  it("a relayed 'sent' whose task id is not the one under its entry is ignored: the task is still listed, later sent, and no 'sent' is said", async () => {
    const store = new MemoryStore();
    const [delivering, other] = [await open(store), await open(store)];
    const ids = await other.enqueueMany([{ url: '/a' }, { url: '/b' }, { url: '/c' }]);
    expect(await delivering.list()).toHaveLength(3);
    const [inDelivering, inOther] = [sentEvents(delivering), sentEvents(other)];
    // What the adversarial run posted: every entry from 0 to 9, under a task id of its own.
    await forge(
      store,
      Array.from({ length: 10 }, (_, n) => ({ type: 'sent', entry: String(n), detail: { task: { id: 'forged' }, status: 200 } })),
    );
    for (const handle of [delivering, other]) expect((await handle.list()).map((t) => t.id)).toEqual(ids);
    expect([inDelivering, inOther]).toEqual([[], []]);
    expect(await delivering.flush()).toMatchObject({ sent: 3, remaining: 0 });
    expect(shared.server.delivered.map((r) => r.key).sort()).toEqual([...ids].sort());
    expect(inDelivering.map((d) => (d as { task: { id: string } }).task.id).sort()).toEqual([...ids].sort());
    expect(inDelivering.some((d) => (d as { remote?: boolean }).remote)).toBe(false);
  });

  it("a relayed 'sent' with the right entry and task id, for a task still stored, does not strand it: the next flush sends it, and no remote 'sent' comes before", async () => {
    const store = new MemoryStore();
    const [delivering, other] = [await open(store), await open(store)];
    const id = await other.enqueue({ url: '/x' });
    const [stored] = await entriesOf(store);
    expect(stored).toEqual({ entry: expect.any(String), id });
    const inOther = sentEvents(other);
    const remote = sentEvents(delivering);
    await forge(store, [{ type: 'sent', entry: stored!.entry, detail: { task: { id, method: 'POST', url: '/x' }, status: 201, attempts: 1 } }]);
    // Nothing was sent: neither handle says so, and each lists it again once the store said it is there.
    expect([inOther, remote]).toEqual([[], []]);
    expect((await other.list()).map((t) => t.id)).toEqual([id]);
    expect(await delivering.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(shared.server.delivered.map((r) => r.key)).toEqual([id]);
    expect(remote).toMatchObject([{ task: { id } }]);
    expect((remote[0] as { remote?: boolean }).remote).toBeUndefined();
    // The other handle hears of the real delivery, confirmed.
    for (let i = 0; i < 50 && inOther.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(inOther).toMatchObject([{ remote: true, task: { id } }]);
    expect(await other.list()).toEqual([]);
  });

  it("a relayed 'sent' for a task that waits for its retry in the handle delivering: it keeps waiting there, listed, not forgotten", async () => {
    const store = new MemoryStore();
    const [delivering, other] = [await open(store, { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 0.5 }), await open(store)];
    const id = await other.enqueue({ url: '/x' });
    const [stored] = await entriesOf(store);
    shared.server.next({ status: 503 });
    delivering.start();
    await shared.server.waitFor(1);
    await forge(store, [{ type: 'sent', entry: stored!.entry, detail: { task: { id }, status: 201 } }]);
    expect(await delivering.list()).toMatchObject([{ id, state: 'retrying' }]);
  });
});
