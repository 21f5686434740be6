import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backgroundSync } from '../../src/sw.js';
import { SluiceError } from '../../src/index.js';
import { FaultServer } from '../outbox/fault-server.js';
import { handlesOf, rig, type Rig } from '../outbox/helpers.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

/** An outbox double: counts flushes and answers with a scripted result. */
class FakeOutbox extends EventTarget {
  flushes = 0;
  remaining = 0;
  waiting = 0;
  async flush() {
    this.flushes++;
    return { sent: 1, retried: this.remaining, dead: 0, remaining: this.remaining };
  }
  async size() {
    return this.waiting;
  }
}

class Extendable extends Event {
  promises: Promise<unknown>[] = [];
  constructor(type: string, readonly extra: Record<string, unknown> = {}) {
    super(type);
    Object.assign(this, extra);
  }
  waitUntil(promise: Promise<unknown>) {
    this.promises.push(promise);
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Where the tag is refused: a flush on start-up, another at an enqueue (its registration refused too), one on 'online'. */
async function fallsBack(outbox: FakeOutbox, scope: EventTarget) {
  backgroundSync(outbox, { scope });
  await tick();
  expect(outbox.flushes).toBe(1);
  outbox.dispatchEvent(new Event('enqueue'));
  await tick();
  expect(outbox.flushes).toBe(2);
  scope.dispatchEvent(new Event('online'));
  await tick();
  expect(outbox.flushes).toBe(3);
}

describe('backgroundSync()', () => {
  it('with Background Sync: registers the tag after each enqueue and on start-up when tasks wait', async () => {
    const registered: string[] = [];
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async (tag: string) => void registered.push(tag) } } });
    const outbox = new FakeOutbox();
    outbox.waiting = 2;
    backgroundSync(outbox, { tag: 'api', scope });
    await tick();
    expect(registered).toEqual(['api']);
    outbox.dispatchEvent(new Event('enqueue'));
    await tick();
    expect(registered).toEqual(['api', 'api']);
  });

  it('a sync event with the tag flushes inside waitUntil, rejecting while tasks remain', async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    const outbox = new FakeOutbox();
    backgroundSync(outbox, { tag: 'api', scope });
    const other = new Extendable('sync', { tag: 'other' });
    scope.dispatchEvent(other);
    expect(other.promises).toHaveLength(0);

    const done = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(done);
    await expect(done.promises[0]).resolves.toBeUndefined();

    outbox.remaining = 3;
    const retry = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(retry);
    await expect(retry.promises[0]).rejects.toBeInstanceOf(SluiceError);
    expect(outbox.flushes).toBe(2);
  });

  it('on event.lastChance it resolves even with tasks left: no sync follows, the fallbacks take over', async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    const outbox = new FakeOutbox();
    outbox.remaining = 3;
    backgroundSync(outbox, { tag: 'api', scope });
    const last = new Extendable('sync', { tag: 'api', lastChance: true });
    scope.dispatchEvent(last);
    await expect(last.promises[0]).resolves.toBeUndefined();
    expect(outbox.flushes).toBe(1);
  });

  it('without Background Sync: flushes on start-up, on online, and on a sluice:flush message', async () => {
    const scope = new EventTarget();
    const outbox = new FakeOutbox();
    const stop = backgroundSync(outbox, { scope });
    await tick();
    expect(outbox.flushes).toBe(1);
    scope.dispatchEvent(new Event('online'));
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    scope.dispatchEvent(new Extendable('message', { data: { type: 'something else' } }));
    await Promise.all(message.promises);
    expect(outbox.flushes).toBe(3);
    stop();
    scope.dispatchEvent(new Event('online'));
    await tick();
    expect(outbox.flushes).toBe(3);
  });

  it('a worker woken by a sync event does not register the tag again on start-up (the event asks for the next one)', async () => {
    const registered: string[] = [];
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async (tag: string) => void registered.push(tag) } } });
    const outbox = new FakeOutbox();
    outbox.waiting = 2;
    outbox.remaining = 2;
    backgroundSync(outbox, { tag: 'api', scope });
    const event = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(event);
    await expect(event.promises[0]).rejects.toBeInstanceOf(SluiceError);
    await tick();
    expect(registered).toEqual([]);
    outbox.dispatchEvent(new Event('enqueue'));
    await tick();
    expect(registered).toEqual(['api']);
  });

  it('stopped before the outbox opens: no start-up registration, no flush, nothing heard after', async () => {
    const registered: string[] = [];
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async (tag: string) => void registered.push(tag) } } });
    const outbox = new FakeOutbox();
    outbox.waiting = 2;
    let open!: (o: FakeOutbox) => void;
    const stop = backgroundSync(new Promise<FakeOutbox>((resolve) => (open = resolve)), { scope });
    stop();
    open(outbox);
    await tick();
    outbox.dispatchEvent(new Event('enqueue'));
    await tick();
    expect(registered).toEqual([]);

    // Stopped while a refused registration is under way: no fallback flush, no 'online' listener.
    let refuse!: () => void;
    const refused = new Promise<void>((_, reject) => (refuse = () => reject(new DOMException('Permission denied.', 'NotAllowedError'))));
    let asked = 0;
    const refusing = Object.assign(new EventTarget(), { registration: { sync: { register: () => (asked++, refused) } } });
    const other = new FakeOutbox();
    other.waiting = 1;
    const stopOther = backgroundSync(other, { scope: refusing });
    await tick();
    expect(asked).toBe(1);
    stopOther();
    refuse();
    await tick();
    refusing.dispatchEvent(new Event('online'));
    await tick();
    expect(other.flushes).toBe(0);

    // Without Background Sync: the start-up flush waits for the outbox, and a stop meanwhile calls it off.
    const plain = new FakeOutbox();
    let openPlain!: (o: FakeOutbox) => void;
    backgroundSync(new Promise<FakeOutbox>((resolve) => (openPlain = resolve)), { scope: new EventTarget() })();
    openPlain(plain);
    await tick();
    expect(plain.flushes).toBe(0);
  });

  it('where Background Sync refuses the tag (permission denied), it flushes at once and again on online', async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: () => Promise.reject(new DOMException('Permission denied.', 'NotAllowedError')) } } });
    const outbox = new FakeOutbox();
    outbox.waiting = 1;
    await fallsBack(outbox, scope);
  });

  it('a SyncManager that throws instead of rejecting falls back the same, with nothing thrown or unhandled', async () => {
    const scope = Object.assign(new EventTarget(), {
      registration: {
        sync: {
          register: () => {
            throw new DOMException('Permission denied.', 'NotAllowedError');
          },
        },
      },
    });
    const outbox = new FakeOutbox();
    outbox.waiting = 1;
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
    try {
      await fallsBack(outbox, scope);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
      process.off('uncaughtException', record);
    }
  });

  it('a message without waitUntil (a dedicated worker, a plain MessageEvent) still flushes, with nothing thrown', async () => {
    const scope = new EventTarget();
    const outbox = new FakeOutbox();
    const thrown: unknown[] = [];
    const record = (error: unknown) => thrown.push(error);
    process.on('uncaughtException', record);
    try {
      backgroundSync(outbox, { scope });
      await tick();
      scope.dispatchEvent(new MessageEvent('message', { data: { type: 'sluice:flush' } }));
      await tick();
      expect(outbox.flushes).toBe(2);
      expect(thrown).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
    }
  });

  it('a promise that resolves to no outbox: a sync event rejects ERR_INVALID_OPTION, and start-up says so too', async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      // As `Outbox.open(...).then((o) => { o.start(); })` would: the outbox is lost on the way.
      backgroundSync(Promise.resolve(undefined) as never, { scope });
      const sync = new Extendable('sync', { tag: 'sluice' });
      scope.dispatchEvent(sync);
      await expect(sync.promises[0]).rejects.toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' });
      await tick();
      expect(unhandled).toEqual([expect.objectContaining({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' })]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('an outbox that cannot say its size on start-up still gets the tag registered, with nothing unhandled', async () => {
    const registered: string[] = [];
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async (tag: string) => void registered.push(tag) } } });
    const outbox = new FakeOutbox();
    outbox.size = () => Promise.reject(new SluiceError('ERR_CLOSED', 'closed'));
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      backgroundSync(outbox, { scope });
      await tick();
      await tick();
      expect(registered).toEqual(['sluice']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('rejects a bad outbox, options, tag or scope with ERR_INVALID_OPTION', () => {
    const bad: [string, () => unknown][] = [
      ['an empty tag', () => backgroundSync(new FakeOutbox(), { tag: '', scope: new EventTarget() })],
      ['a tag that is not a string', () => backgroundSync(new FakeOutbox(), { tag: 5 as never, scope: new EventTarget() })],
      ['a scope that is no EventTarget', () => backgroundSync(new FakeOutbox(), { scope: 5 as never })],
      // Node's global is no EventTarget: outside a worker, the scope must be given.
      ['no scope, outside a worker', () => backgroundSync(new FakeOutbox())],
      ['options that are no object', () => backgroundSync(new FakeOutbox(), null as never)],
      ['no outbox', () => backgroundSync(null as never, { scope: new EventTarget() })],
      ['something else', () => backgroundSync({} as never, { scope: new EventTarget() })],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(expect.objectContaining({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' }));
  });
});

describe('backgroundSync(outboxPromise)', () => {
  it('adds its listeners at once, before the outbox has opened, and uses the outbox once it has', async () => {
    const scope = new EventTarget();
    let resolve!: (o: FakeOutbox) => void;
    const outbox = new FakeOutbox();
    backgroundSync(new Promise<FakeOutbox>((r) => (resolve = r)), { scope });
    // The message arrives while the outbox is still opening: it is answered once it has opened.
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    expect(message.promises).toHaveLength(1);
    resolve(outbox);
    await Promise.all(message.promises);
    await tick();
    expect(outbox.flushes).toBe(2); // start-up and the message
  });
});

describe('backgroundSync() with a real outbox (Node, an injected scope)', () => {
  let r: Rig;
  /** The host that asks for a wait (a Retry-After holds its host: the network's task goes to another). */
  let limited: FaultServer;
  beforeEach(async () => {
    r = await rig();
    limited = await FaultServer.start();
  });
  afterEach(async () => {
    await r.teardown();
    await limited.close();
  });

  /** A task the network failed (refused), and one a server asked to wait an hour (429, Retry-After). */
  async function twoWaits(): Promise<{ network: string; server: string }> {
    limited.plan('server', [{ status: 429, headers: { 'retry-after': '3600' } }]);
    const server = await r.outbox.enqueue({ url: `${limited.url}/server`, id: 'server', group: 'a' });
    await r.outbox.flush();
    // The network goes a while after that answer: just after it, a refusal would be its host's.
    r.clock.advance(2_000);
    await r.server.down();
    const network = await r.outbox.enqueue({ url: '/network', id: 'network', group: 'b' });
    await r.outbox.flush();
    await r.server.up();
    expect(r.outbox.online).toBe(false);
    return { network, server };
  }

  it('a sync event sends what the network held back at once, keeps the wait the server asked for, and rejects', async () => {
    const { network } = await twoWaits();
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    backgroundSync(r.outbox, { tag: 'api', scope });
    const sync = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(sync);
    await expect(sync.promises[0]).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    expect(r.server.delivered.map((x) => x.key)).toEqual([network]);
    expect(await r.outbox.list()).toMatchObject([{ id: 'server', state: 'retrying' }]);
    // The server's hour is honoured; only then does it go.
    r.clock.advance(3600_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
  });

  it('the same on its last chance, but it resolves', async () => {
    await twoWaits();
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    backgroundSync(r.outbox, { tag: 'api', scope });
    const sync = new Extendable('sync', { tag: 'api', lastChance: true });
    scope.dispatchEvent(sync);
    await expect(sync.promises[0]).resolves.toBeUndefined();
    expect(await r.outbox.size()).toBe(1);
  });

  it('a sync event whose ready tasks wait behind a wait the server asked for (in their group, at their host) rejects at once', async () => {
    r.server.plan('first', [{ status: 429, headers: { 'retry-after': '3600' } }]);
    await r.outbox.enqueue({ url: '/first', id: 'first', group: 'a' });
    await r.outbox.flush();
    await r.outbox.enqueue({ url: '/second', id: 'second', group: 'a' });
    await r.outbox.enqueue({ url: '/third', id: 'third' });
    // Listed ready, as they are: none held elsewhere, none that a flush again within the event could send.
    expect(await r.outbox.list({ state: 'ready' })).toMatchObject([{ id: 'second' }, { id: 'third' }]);
    const flush = vi.spyOn(r.outbox, 'flush');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
      const stop = backgroundSync(r.outbox, { tag: 'api', scope });
      const sync = new Extendable('sync', { tag: 'api' });
      scope.dispatchEvent(sync);
      const settled = sync.promises[0]!.then(() => 'resolved', (error: SluiceError) => error.code);
      // Before: the event held for a minute (1 s, then 2, 4… 32), flushing six times more for nothing.
      await vi.advanceTimersByTimeAsync(70_000);
      expect(await settled).toBe('ERR_STORAGE');
      expect(flush).toHaveBeenCalledTimes(1);
      expect(r.server.delivered).toHaveLength(0);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a worker that starts with ready tasks behind a wait the server asked for does not flush them again and again', async () => {
    r.server.plan('first', [{ status: 429, headers: { 'retry-after': '3600' } }]);
    await r.outbox.enqueue({ url: '/first', id: 'first', group: 'a' });
    await r.outbox.flush();
    await r.outbox.enqueue({ url: '/second', id: 'second', group: 'a' });
    const original = r.outbox.flush.bind(r.outbox);
    let flushed!: () => void;
    const firstFlush = new Promise<void>((resolve) => (flushed = resolve));
    const flush = vi.spyOn(r.outbox, 'flush').mockImplementation((options) => original(options).finally(flushed));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
      const stop = backgroundSync(r.outbox, { tag: 'api', scope });
      await firstFlush;
      // Before: flushed again 1 s on, then 2, 4… up to a minute apart, for as long as the worker ran.
      await vi.advanceTimersByTimeAsync(130_000);
      expect(flush).toHaveBeenCalledTimes(1);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a registration refused after a network failure does not count as the network back: no send at once, no online event', async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: () => Promise.reject(new DOMException('Permission denied.', 'NotAllowedError')) } } });
    backgroundSync(r.outbox, { tag: 'api', scope });
    for (let i = 0; i < 5; i++) await tick();
    await r.server.down();
    // The worker's fetch handler: the network fails, the request is stored, and its enqueue asks for a sync, refused.
    const response = await r.outbox.fetch(new Request(`${r.server.url}/stored`, { method: 'POST', body: 'x' }));
    expect(response.status).toBe(202);
    const tried = r.calls.length;
    for (let i = 0; i < 20; i++) await tick();
    expect(r.calls.length).toBe(tried);
    expect(r.outbox.online).toBe(false);
    expect(r.events('online')).toEqual([]);
    // The platform's 'online' is the network back: then it goes.
    await r.server.up();
    scope.dispatchEvent(new Event('online'));
    for (let i = 0; i < 50 && (await r.outbox.size()) > 0; i++) await tick();
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/stored']);
  });

  for (const sync of [true, false]) {
    it(`the worker's next enqueue tries what a network failure held back, as the backoff allows (${sync ? 'with' : 'without'} Background Sync)`, async () => {
      // The fetch-handler recipe: one failure stored the request, and every later one of its group was stored behind
      // it (202) with the server up, none sent: until the browser's next sync (5 minutes in Chromium), or for good in
      // Firefox while the worker lived.
      const scope = Object.assign(new EventTarget(), sync ? { registration: { sync: { register: async () => undefined } } } : {});
      backgroundSync(r.outbox, { tag: 'api', scope });
      for (let i = 0; i < 5; i++) await tick();
      await r.server.down();
      expect((await r.outbox.fetch(new Request(`${r.server.url}/first`, { method: 'POST', body: 'x' }))).status).toBe(202);
      await r.server.up();
      r.clock.advance(60_000);
      expect((await r.outbox.fetch(new Request(`${r.server.url}/second`, { method: 'POST', body: 'y' }))).status).toBe(202);
      for (let i = 0; i < 100 && (await r.outbox.size()) > 0; i++) await tick();
      expect(r.server.delivered.map((x) => x.path)).toEqual(['/first', '/second']);
    });
  }

  it("a live request of another group answered sends what a network failure held back (the outbox's own 'online')", async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    backgroundSync(r.outbox, { tag: 'api', scope });
    for (let i = 0; i < 5; i++) await tick();
    await r.server.down();
    expect((await r.outbox.fetch(new Request(`${r.server.url}/first`, { method: 'POST', body: 'x' }))).status).toBe(202);
    await r.server.up();
    const other = await r.outbox.fetch(new Request(`${r.server.url}/other`, { method: 'POST', body: 'y', headers: { 'Sluice-Group': 'other' } }));
    expect(other.status).toBe(200);
    for (let i = 0; i < 100 && (await r.outbox.size()) > 0; i++) await tick();
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/other', '/first']);
  });

  it('without Background Sync: start-up, online and a page message each send what the network held back', async () => {
    const { network } = await twoWaits();
    const scope = new EventTarget();
    backgroundSync(r.outbox, { scope });
    // The server has it before the outbox has its response: wait for the outbox to have settled it.
    for (let i = 0; i < 50 && (await r.outbox.size()) > 1; i++) await tick();
    expect(r.server.delivered.map((x) => x.key)).toEqual([network]);
    expect(await r.outbox.size()).toBe(1);
    // Another network failure; the platform's 'online' sends it at once.
    await r.server.down();
    await r.outbox.enqueue({ url: '/again', id: 'again', group: 'c' });
    await r.outbox.flush();
    await r.server.up();
    scope.dispatchEvent(new Event('online'));
    for (let i = 0; i < 50 && (await r.outbox.size()) > 1; i++) await tick();
    expect(r.server.delivered.map((x) => x.key)).toEqual([network, 'again']);
    // And a page's message, the same.
    await r.server.down();
    await r.outbox.enqueue({ url: '/third', id: 'third', group: 'd' });
    await r.outbox.flush();
    await r.server.up();
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    await Promise.all(message.promises);
    expect(r.server.delivered.map((x) => x.key)).toEqual([network, 'again', 'third']);
    expect(await r.outbox.list()).toMatchObject([{ id: 'server', state: 'retrying' }]);
  });
});

/**
 * A MemoryStore whose notices of other handles' commits arrive only when `tell()` is called: as between a page and
 * its service worker, where the notice (a BroadcastChannel message, spaced by the store) and the page's message or
 * the browser's sync event travel apart, in either order.
 */
function laggingStore(): { store: MemoryStore; tell: () => void } {
  const store = new MemoryStore();
  const held: (() => void)[] = [];
  const open = store.open.bind(store);
  store.open = async (name) => {
    const storage = await open(name);
    const watch = storage.watch!.bind(storage);
    storage.watch = (listener) => watch(() => held.push(listener));
    return storage;
  };
  return { store, tell: () => held.splice(0).forEach((listener) => listener()) };
}

describe('backgroundSync() on a worker handle that has not heard of a page’s enqueue yet', () => {
  const handles = handlesOf('api');

  async function workerAndPage(scope: EventTarget) {
    const { store, tell } = laggingStore();
    const worker = await handles.open(store);
    backgroundSync(worker, { tag: 'api', scope });
    // The start-up flush (or registration) is over, with nothing to send.
    await worker.flush();
    const page = await handles.open(store);
    const id = await page.enqueue({ url: '/from-page' });
    return { worker, page, id, tell };
  }

  it("a page's message sends the task the page stored just before, whether or not the notice came first", async () => {
    const scope = new EventTarget();
    const { worker, id, tell } = await workerAndPage(scope);
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    await Promise.all(message.promises);
    expect(handles.server.delivered.map((x) => x.key)).toEqual([id]);
    tell();
    expect(await worker.size()).toBe(0);
  });

  it('a sync event sends it too, and resolves', async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    const { worker, id, tell } = await workerAndPage(scope);
    const sync = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(sync);
    await expect(sync.promises[0]).resolves.toBeUndefined();
    expect(handles.server.delivered.map((x) => x.key)).toEqual([id]);
    tell();
    expect(await worker.size()).toBe(0);
  });
});

describe('backgroundSync(): a page message while a sync event delivers', () => {
  const handles = handlesOf('api');

  it('both settle once every task is delivered and acked, each sent once, and the sync resolves', async () => {
    const outbox = await handles.open(new MemoryStore());
    handles.server.script(() => ({ delayMs: 30 }));
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await outbox.enqueue({ url: `/t${i}`, group: `g${i % 2}` }));
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    backgroundSync(outbox, { tag: 'api', scope });
    const sync = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(sync);
    await handles.server.waitFor(2);
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    const sizeWhen = (p: Promise<unknown>) => p.then(() => outbox.size());
    const [atSync, atMessage] = await Promise.all([sizeWhen(sync.promises[0]!), sizeWhen(message.promises[0]!)]);
    expect([atSync, atMessage]).toEqual([0, 0]);
    expect(handles.server.received.map((x) => x.key).sort()).toEqual([...ids].sort());
  });
});

/** The outbox double whose flushes leave `remaining` (one at first), which it says it holds. */
class FlushCounter extends FakeOutbox {
  override remaining = 1;
  override async size() {
    return this.remaining;
  }
}

describe('backgroundSync() without a sync event to come back: flushes again what a flush left', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('without Background Sync: what a flush leaves (a 500) is flushed again while the worker runs, until none is left', async () => {
    const outbox = new FlushCounter();
    const stop = backgroundSync(outbox, { scope: new EventTarget() });
    await vi.advanceTimersByTimeAsync(0);
    expect(outbox.flushes).toBe(1); // on start-up
    await vi.advanceTimersByTimeAsync(1_000);
    expect(outbox.flushes).toBe(2); // 1 s later, no page message, no 'online'
    await vi.advanceTimersByTimeAsync(2_000);
    expect(outbox.flushes).toBe(3);
    outbox.remaining = 0;
    await vi.advanceTimersByTimeAsync(4_000);
    expect(outbox.flushes).toBe(4); // that one sent the rest
    await vi.advanceTimersByTimeAsync(600_000);
    expect(outbox.flushes).toBe(4); // and nothing more
    stop();
  });

  it('the flushes again end with stop()', async () => {
    const outbox = new FlushCounter();
    const stop = backgroundSync(outbox, { scope: new EventTarget() });
    await vi.advanceTimersByTimeAsync(0);
    stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(outbox.flushes).toBe(1);
  });

  it('with Background Sync: what an enqueue left is flushed once, and not again on a timer (the sync event asks for more)', async () => {
    const outbox = new FlushCounter();
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    const stop = backgroundSync(outbox, { scope });
    await vi.advanceTimersByTimeAsync(0);
    // A worker that starts with tasks waiting tries them at once: the tag it registers may join one waiting out the
    // browser's backoff (a new version after a failed sync), and no event would come for minutes.
    expect(outbox.flushes).toBe(1);
    outbox.dispatchEvent(new Event('enqueue')); // registers the tag, then flushes what waits
    await vi.advanceTimersByTimeAsync(0);
    const after = outbox.flushes;
    expect(after).toBe(2);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(outbox.flushes).toBe(after);
    stop();
  });

  it("with Background Sync: what a page's message left (a task the page stored, a 500) asks for a sync event, as nothing else here did, and is flushed again meanwhile", async () => {
    const outbox = new FlushCounter();
    outbox.remaining = 0;
    let registrations = 0;
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => void registrations++ } } });
    const stop = backgroundSync(outbox, { scope });
    await vi.advanceTimersByTimeAsync(0);
    expect(registrations).toBe(0); // nothing waited at start-up
    outbox.remaining = 1;
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    await Promise.all(message.promises);
    await vi.advanceTimersByTimeAsync(0);
    expect(registrations).toBe(1);
    // And flushed again while the worker runs, as without Background Sync: the sync event may come minutes later.
    const after = outbox.flushes;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(outbox.flushes).toBe(after + 1);
    outbox.remaining = 0;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(outbox.flushes).toBe(after + 2);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(outbox.flushes).toBe(after + 2);
    stop();
  });

  it('a registration refused (no active worker yet), then accepted: the flushes again end with the refusal', async () => {
    const outbox = new FlushCounter();
    let refuse = true;
    const register = async () => {
      if (refuse) throw new DOMException('no active worker', 'InvalidStateError');
    };
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register } } });
    const stop = backgroundSync(outbox, { scope });
    await vi.advanceTimersByTimeAsync(0); // start-up: tasks wait, the registration is refused, a flush falls back
    refuse = false;
    outbox.dispatchEvent(new Event('enqueue')); // registered now: sync events will come back for what remains
    await vi.advanceTimersByTimeAsync(0);
    const after = outbox.flushes;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(outbox.flushes).toBe(after);
    stop();
  });

  it('a flush that leaves nothing (a page message sent it all) ends the flushes again armed before it', async () => {
    const outbox = new FlushCounter();
    const scope = new EventTarget();
    const stop = backgroundSync(outbox, { scope });
    await vi.advanceTimersByTimeAsync(0); // start-up: one task left, a flush again armed for 1 s later
    outbox.remaining = 0;
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    await Promise.all(message.promises);
    const after = outbox.flushes;
    // What a page stores next waits for its own trigger, not for a timer of the flushes before.
    outbox.remaining = 1;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(outbox.flushes).toBe(after);
    stop();
  });
});

describe('a sync event whose flush lost the network', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  /** An outbox double whose flushes leave `left[i]` tasks, offline while any is left but after the last. */
  class Flaky extends FlushCounter {
    online = true;
    constructor(readonly left: number[]) {
      super();
    }
    override async flush() {
      const remaining = this.left[Math.min(this.flushes, this.left.length - 1)]!;
      this.flushes++;
      this.online = remaining === 0 || this.flushes === this.left.length;
      return { sent: 0, retried: remaining, dead: 0, remaining };
    }
  }
  const syncScope = () => Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });

  it('flushes again within the event while the outbox is offline, and resolves once all went (not at the next sync, minutes later)', async () => {
    const outbox = new Flaky([5, 5, 0]);
    outbox.remaining = 0;
    const scope = syncScope();
    const stop = backgroundSync(outbox, { scope });
    await vi.advanceTimersByTimeAsync(0);
    const sync = new Extendable('sync', { tag: 'sluice' });
    scope.dispatchEvent(sync);
    let settled = false;
    void sync.promises[0]!.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect([outbox.flushes, settled]).toEqual([2, false]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(outbox.flushes).toBe(3);
    await expect(sync.promises[0]).resolves.toBeUndefined();
    stop();
  });

  it('rejects at once when the outbox is online (what remains waits on its server), and after four more tries offline', async () => {
    const online = new Flaky([3]);
    online.remaining = 0;
    const scope = syncScope();
    const stop = backgroundSync(online, { scope });
    await vi.advanceTimersByTimeAsync(0);
    const first = new Extendable('sync', { tag: 'sluice' });
    scope.dispatchEvent(first);
    await expect(first.promises[0]).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    expect(online.flushes).toBe(1);
    stop();

    const offline = new Flaky([4, 4, 4, 4, 4, 4]);
    offline.remaining = 0;
    const other = syncScope();
    const stopOther = backgroundSync(offline, { scope: other });
    await vi.advanceTimersByTimeAsync(0);
    const second = new Extendable('sync', { tag: 'sluice' });
    other.dispatchEvent(second);
    const rejected = expect(second.promises[0]).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    await vi.advanceTimersByTimeAsync(15_000);
    await rejected;
    expect(offline.flushes).toBe(5);
    stopOther();
  });
});

describe('a sync event probing again, when another brings the outbox online meanwhile', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('flushes no more (a page message or online sent what waits): it rejects, for the next sync', async () => {
    const outbox = new FlushCounter();
    Object.assign(outbox, { online: false });
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    outbox.remaining = 0;
    const stop = backgroundSync(outbox, { scope });
    await vi.advanceTimersByTimeAsync(0);
    outbox.remaining = 2;
    const sync = new Extendable('sync', { tag: 'sluice' });
    scope.dispatchEvent(sync);
    const rejected = expect(sync.promises[0]).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    await vi.advanceTimersByTimeAsync(0);
    Object.assign(outbox, { online: true });
    await vi.advanceTimersByTimeAsync(20_000);
    await rejected;
    expect(outbox.flushes).toBe(1);
    stop();
  });
});

/** An outbox whose flushes answer in turn from `results` (the last one over and over), and that lists `listed`. */
class Scripted extends EventTarget {
  flushes = 0;
  listed: unknown[] = [];
  readonly online = true;
  constructor(readonly results: { sent: number; retried: number; dead: number; remaining: number }[], readonly waiting = 0) {
    super();
  }
  async flush() {
    return this.results[Math.min(this.flushes++, this.results.length - 1)]!;
  }
  async size() {
    return this.waiting;
  }
  async list(options: { state: readonly string[]; limit: number }) {
    expect(options.limit).toBe(1);
    return this.listed.filter((task) => options.state.includes((task as { state: string }).state)).slice(0, 1);
  }
}

const NOTHING = { sent: 0, retried: 0, dead: 0, remaining: 3 };
const ALL = { sent: 3, retried: 0, dead: 0, remaining: 0 };

describe('another handle delivering (an old version of the worker, a page), gone part way', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());
  const withSync = () => Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });

  it('a sync event whose flush sent nothing, tasks ready, looks again within the event and resolves once they went', async () => {
    const outbox = new Scripted([NOTHING, NOTHING, ALL]);
    outbox.listed = [{ state: 'ready' }];
    const scope = withSync();
    const stop = backgroundSync(outbox, { scope });
    const sync = new Extendable('sync', { tag: 'sluice' });
    scope.dispatchEvent(sync);
    let settled = false;
    void sync.promises[0]!.finally(() => (settled = true)).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(1_000);
    expect([outbox.flushes, settled]).toEqual([2, false]);
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(sync.promises[0]).resolves.toBeUndefined();
    expect(outbox.flushes).toBe(3);
    stop();
  });

  it('a sync event whose tasks all wait for a retry (a Retry-After) rejects at once, without looking again', async () => {
    const outbox = new Scripted([NOTHING]);
    const scope = withSync();
    const stop = backgroundSync(outbox, { scope });
    const sync = new Extendable('sync', { tag: 'sluice' });
    scope.dispatchEvent(sync);
    await expect(sync.promises[0]).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    expect(outbox.flushes).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(outbox.flushes).toBe(1);
    stop();
  });

  it('a sync event looks again for about a minute at most, then rejects for the next sync', async () => {
    const outbox = new Scripted([NOTHING]);
    outbox.listed = [{ state: 'sending' }];
    const scope = withSync();
    const stop = backgroundSync(outbox, { scope });
    const sync = new Extendable('sync', { tag: 'sluice' });
    scope.dispatchEvent(sync);
    const rejected = expect(sync.promises[0]).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    // 1 s, then 2, 4, 8, 16 and 32.
    await vi.advanceTimersByTimeAsync(62_000);
    expect(outbox.flushes).toBe(6);
    await vi.advanceTimersByTimeAsync(1_000);
    await rejected;
    expect(outbox.flushes).toBe(7);
    stop();
  });

  it('a worker that starts with tasks its flush could not send (the old version delivers) flushes again while it runs', async () => {
    const outbox = new Scripted([NOTHING, NOTHING, ALL, NOTHING], 3);
    outbox.listed = [{ state: 'sending' }];
    const stop = backgroundSync(outbox, { scope: withSync() });
    await vi.advanceTimersByTimeAsync(0);
    expect(outbox.flushes).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(outbox.flushes).toBe(2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(outbox.flushes).toBe(3);
    // All went: no more.
    await vi.advanceTimersByTimeAsync(120_000);
    expect(outbox.flushes).toBe(3);
    stop();
  });
});
