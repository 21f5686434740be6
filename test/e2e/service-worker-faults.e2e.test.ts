import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrivenPage } from '../browser/drive/index.mjs';
import { bundle, startBrowser, type ServedBrowser } from './browser-page.mjs';
import { eachEngine, itOnlyIn } from './each-engine.js';
import { OUTBOX_WORKER, registerWorker, serveWorker } from './outbox-worker.js';

// What a service worker's delivery meets in an app's life, checked against a ledger of what reached the server (by
// Idempotency-Key): every task enqueued arrives, none lost, and none sent twice but the one a fault cut off.
eachEngine('A service worker delivering an outbox, under faults', (engine) => {
  let browser: ServedBrowser;
  let page: DrivenPage;
  /** Keys of requests whose whole body reached the server, in order of arrival. */
  const ledger: string[] = [];
  /** While set, /api/ requests are held unanswered (a slow server), each arrival told through `heldArrived`. */
  let hold = false;
  const held: ServerResponse[] = [];
  /** How many requests were held, each answered only once its sender was gone: each is sent again. */
  let cutOff = 0;
  let heldArrived: () => void = () => undefined;
  /** While set, /api/ requests have their connection cut before an answer, none counted (the server unreachable). */
  let down = false;
  let refused = 0;
  /** Which /api/ requests are answered 503 (not counted in the ledger: the task was not delivered). */
  let unavailable: (url: string) => boolean = () => false;
  let unavailableTimes = 0;

  beforeAll(async () => {
    // The worker a user writes, and for the tests a run id its script draws on each start, to tell a restart.
    const worker = `${OUTBOX_WORKER}
      const run = Math.random();
      self.addEventListener('message', (event) => event.data?.type === 'test:run' && event.ports[0].postMessage(run));
      // Each sync event's promise (the one its listener hands to waitUntil), as it settled and how long it took.
      const syncs = [];
      const waitUntil = ExtendableEvent.prototype.waitUntil;
      ExtendableEvent.prototype.waitUntil = function (promise) {
        if (this.type === 'sync') {
          const entry = { lastChance: this.lastChance, state: 'pending', at: Date.now(), ms: -1 };
          syncs.push(entry);
          Promise.resolve(promise)
            .then(() => 'resolved', (error) => 'rejected ' + error?.code)
            .then((state) => Object.assign(entry, { state, ms: Date.now() - entry.at }));
        }
        return waitUntil.call(this, promise);
      };
      self.addEventListener('message', (event) => event.data?.type === 'test:syncs' && event.ports[0].postMessage(syncs));
    `;
    const serve = serveWorker(await bundle(worker));
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      if (serve(req, res)) return true;
      if (!req.url?.startsWith('/api/')) return false;
      if (down) {
        refused++;
        req.socket.destroy();
        return true;
      }
      req.resume();
      req.on('end', () => {
        if (unavailable(req.url!)) {
          unavailableTimes++;
          res.writeHead(503).end();
          return;
        }
        ledger.push(req.headers['idempotency-key'] as string);
        if (hold) {
          held.push(res);
          heldArrived();
        } else res.writeHead(201).end();
      });
      return true;
    };
    browser = await startBrowser(engine, { handle });
    page = await browser.open();
    await page.evaluate(registerWorker);
  }, 120_000);

  afterAll(() => browser?.close());

  const times = (key: string) => ledger.filter((k) => k === key).length;
  const until = async (done: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 50));
    return done();
  };

  /** A page's handle stores `count` tasks of `group` in the worker's outbox and closes: only the worker sends them. */
  const enqueue = (path: string, count: number, group?: string) =>
    page.evaluate(
      async ({ path, count, group }) => {
        const outbox = await (globalThis as any).sluice.Outbox.open({ name: 'api', baseUrl: location.origin });
        const ids: string[] = [];
        for (let i = 0; i < count; i++) ids.push(await outbox.enqueue({ url: `${path}/${i}`, body: { i }, ...(group ? { group } : {}) }));
        await outbox.close();
        return ids;
      },
      { path, count, group },
    );

  const askFlush = () => page.evaluate(() => navigator.serviceWorker.controller!.postMessage({ type: 'sluice:flush' }));

  /** The run id of the page's worker, started for the question if it was stopped. */
  const run = () =>
    page.evaluate(async () => {
      const channel = new MessageChannel();
      const answered = new Promise<number>((resolve) => (channel.port1.onmessage = (e) => resolve(e.data)));
      navigator.serviceWorker.controller!.postMessage({ type: 'test:run' }, [channel.port2]);
      return answered;
    });

  const waiting = () =>
    page.evaluate(async () => {
      const outbox = await (globalThis as any).sluice.Outbox.open({ name: 'api', baseUrl: location.origin });
      const size: number = await outbox.size();
      await outbox.close();
      return size;
    });

  itOnlyIn('chromium', engine, 'a worker stopped mid-delivery, started again, delivers every task, none twice but the one cut off', 'only the DevTools Protocol (Chromium) stops a service worker on demand', async () => {
    cutOff = 0;
    const ids = await enqueue('/api/stopped', 4, 'stopped');
    const before = await run();
    hold = true;
    const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
    await askFlush();
    await arrived;
    // The first task is out, its answer held: the worker is stopped under it, as the browser stops an idle one.
    const cdp = await page.cdp!();
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    hold = false;
    // The request cut off reached the server, whose answer comes too late for anyone to hear it.
    for (const res of held.splice(0)) cutOff++, res.writeHead(201).end();
    expect(await run()).not.toBe(before);
    // Started again by a page's message. The cut-off task's lease (timeoutMs + 60 s) must not hold it: its
    // handle is gone.
    const all = () => ids.every((id) => times(id) > 0);
    for (let i = 0; i < 40 && !all(); i++) {
      await askFlush();
      await until(all, 500);
    }
    expect(ids.map(times)).toEqual([1 + cutOff, 1, 1, 1]);
    expect(ledger.filter((k) => ids.includes(k))).toEqual([...ids.slice(0, 1).flatMap((id) => Array(cutOff).fill(id)), ...ids]);
    expect(await waiting()).toBe(0);
  }, 60_000);

  itOnlyIn('chromium', engine, 'a new version activated while the old one delivers, the old one then stopped: the new one delivers the rest', 'only the DevTools Protocol (Chromium) stops a service worker on demand', async () => {
    const cdp = await page.cdp!();
    const versions = new Map<string, { scriptURL: string; runningStatus: string; status: string }>();
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: updated }) => {
      for (const v of updated) versions.set(v.versionId, v);
    });
    // Enabled afresh, so that every version is told (an enable before told them already).
    await cdp.send('ServiceWorker.disable');
    await cdp.send('ServiceWorker.enable');
    cutOff = 0;
    const ids = await enqueue('/api/update', 4, 'update');
    hold = true;
    const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
    await askFlush();
    await arrived;
    const old = [...versions].find(([, v]) => v.status === 'activated' && v.runningStatus === 'running')![0];
    // The new version takes over (skipWaiting, clients.claim) while the old one waits for its answer (Chromium
    // activates it once the old one's request gives up, at its timeoutMs): the sync event that the new one's
    // start-up registration brings may reach either, and finds the group's head given back, waiting its retry delay.
    await page.evaluate(async () => {
      const changed = new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
      await navigator.serviceWorker.register('/sw.js?v2');
      await changed;
    });
    await cdp.send('ServiceWorker.stopWorker', { versionId: old });
    hold = false;
    for (const res of held.splice(0)) cutOff++, res.writeHead(201).end();
    // No page asks: the new version delivers on its own, long before Chromium's next sync (5 minutes on).
    await until(() => ids.every((id) => times(id) > 0), 30_000);
    expect(ids.map(times)).toEqual([1 + cutOff, 1, 1, 1]);
    expect(ledger.filter((k) => ids.includes(k))).toEqual([...ids.slice(0, 1).flatMap((id) => Array(cutOff).fill(id)), ...ids]);
    expect(await waiting()).toBe(0);
  }, 120_000);

  /** The sync events of the page's worker, each with how its promise settled and after how long (ms; -1: pending). */
  const syncs = () =>
    page.evaluate(async () => {
      const channel = new MessageChannel();
      const answered = new Promise<{ lastChance: boolean; state: string; at: number; ms: number }[]>((resolve) => (channel.port1.onmessage = (e) => resolve(e.data)));
      navigator.serviceWorker.controller!.postMessage({ type: 'test:syncs' }, [channel.port2]);
      return answered;
    });

  /** The page's registration, as the DevTools Protocol names it. */
  let registrationId: string | undefined;
  /** Fires the tag 'api' at the page's registration through the DevTools Protocol, as the browser does: at once. */
  const fireSync = async (lastChance: boolean) => {
    const cdp = await page.cdp!();
    const origin = await page.evaluate(() => location.origin);
    if (registrationId === undefined) {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }: { registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] }) => {
        for (const r of registrations) if (r.scopeURL === `${origin}/` && !r.isDeleted) registrationId = r.registrationId;
      });
      // Enabled afresh, so that every registration is told.
      await cdp.send('ServiceWorker.disable');
      await cdp.send('ServiceWorker.enable');
      await until(() => registrationId !== undefined, 5_000);
    }
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId: registrationId!, tag: 'api', lastChance });
  };

  /** The sync event fired after the `before` known ones, once its promise settled. */
  const settled = async (before: number, ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 100))) {
      const event = (await syncs())[before];
      if (event && event.ms >= 0) return event;
    }
    return (await syncs())[before];
  };

  itOnlyIn('chromium', engine, 'a sync event while the worker already delivers (a page asked, a request held): it settles as that delivery ends, every task once', 'only Chromium has Background Sync', async () => {
    const ids = await enqueue('/api/busy', 3, 'busy');
    hold = true;
    const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
    await askFlush();
    await arrived;
    const before = (await syncs()).length;
    await fireSync(false);
    // The server takes its time: 8 s, past the first waits of a flush that found the group's head out elsewhere.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    expect((await syncs())[before]?.state).toBe('pending');
    hold = false;
    const answered = Date.now();
    for (const res of held.splice(0)) res.writeHead(201).end();
    await until(() => ids.every((id) => times(id) > 0), 10_000);
    const event = await settled(before, 30_000);
    // Settled as the worker's own delivery ended, the rest sent at once, not at the next of its 1, 2, 4, 8 s waits (7 s
    // after the answer here). 5 s: room for a loaded machine, still short of that wait.
    expect(event).toMatchObject({ lastChance: false, state: 'resolved' });
    expect(event!.at + event!.ms - answered).toBeLessThan(5_000);
    expect(ids.map(times)).toEqual([1, 1, 1]);
    expect(await waiting()).toBe(0);
  }, 60_000);

  itOnlyIn('chromium', engine, 'sync events while the start-up flush of a worker delivers (a request held): each settles as that delivery ends, every task once', 'only Chromium has Background Sync and stops a service worker on demand', async () => {
    const cdp = await page.cdp!();
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    const ids = await enqueue('/api/startup', 3, 'startup');
    hold = true;
    const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
    // Started by a message: tasks wait, so it registers the tag (Chromium fires it at once) and flushes.
    await run();
    await arrived;
    await fireSync(false);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect((await syncs()).map((event) => event.state)).toContain('pending');
    hold = false;
    const answered = Date.now();
    for (const res of held.splice(0)) res.writeHead(201).end();
    await until(() => ids.every((id) => times(id) > 0), 10_000);
    for (const end = Date.now() + 30_000; Date.now() < end && (await syncs()).some((event) => event.ms < 0); ) await new Promise((resolve) => setTimeout(resolve, 100));
    const events = await syncs();
    // The one fired here, and most often the one the start-up registration brings.
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.map((event) => event.state)).toEqual(events.map(() => 'resolved'));
    for (const event of events) expect(event.at + event.ms - answered).toBeLessThan(5_000);
    expect(ids.map(times)).toEqual([1, 1, 1]);
    expect(await waiting()).toBe(0);
  }, 60_000);

  itOnlyIn('chromium', engine, 'a sync event rejected for a 503, the browser firing it again: the tasks go at the retry; on its last chance it resolves, the rest going at the next trigger', 'only Chromium has Background Sync', async () => {
    // The server answers 503 the first time, 201 after.
    unavailable = (url) => url.startsWith('/api/again/') && unavailableTimes === 0;
    unavailableTimes = 0;
    const ids = await enqueue('/api/again', 3, 'again');
    let before = (await syncs()).length;
    await fireSync(false);
    expect(await settled(before, 20_000)).toMatchObject({ lastChance: false, state: 'rejected ERR_STORAGE' });
    expect(unavailableTimes).toBe(1);
    expect(ids.map(times)).toEqual([0, 0, 0]);
    // Chromium's retry (minutes later; here at once, past the task's retry delay, under 200 ms).
    await new Promise((resolve) => setTimeout(resolve, 500));
    before = (await syncs()).length;
    await fireSync(false);
    expect(await settled(before, 20_000)).toMatchObject({ lastChance: false, state: 'resolved' });
    expect(ids.map(times)).toEqual([1, 1, 1]);

    // Unavailable throughout: rejected, and on the last chance resolved, with the tasks still waiting.
    unavailable = (url) => url.startsWith('/api/last/');
    unavailableTimes = 0;
    const rest = await enqueue('/api/last', 2, 'last');
    before = (await syncs()).length;
    await fireSync(false);
    expect(await settled(before, 20_000)).toMatchObject({ state: 'rejected ERR_STORAGE' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await fireSync(true);
    expect(await settled(before + 1, 20_000)).toMatchObject({ lastChance: true, state: 'resolved' });
    expect(unavailableTimes).toBe(2);
    expect(await waiting()).toBe(2);
    // No sync follows: the next trigger (a page's message) sends them.
    unavailable = () => false;
    const all = () => rest.every((id) => times(id) > 0);
    for (let i = 0; i < 20 && !all(); i++) {
      await askFlush();
      await until(all, 500);
    }
    expect([...ids, ...rest].map(times)).toEqual([1, 1, 1, 1, 1]);
    expect(await waiting()).toBe(0);
  }, 60_000);

  itOnlyIn('chromium', engine, 'a sync event that finds a page delivering, the page then closed mid-request: the worker delivers the rest', 'only Chromium has Background Sync', async () => {
    // A registration of its own, started before anything waits (no start-up flush): the first one's tag may be
    // waiting out Chromium's backoff after the tests before, and this one's sync event is the only trigger.
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.register('/sw.js?pagesync', { scope: '/pagesync/' });
      const worker = registration.installing ?? registration.waiting ?? registration.active!;
      if (worker.state !== 'activated') {
        await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve(undefined)));
      }
    });
    cutOff = 0;
    hold = true;
    const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
    // A tab that delivers itself (start(): it holds the delivery lock while open), its first request held.
    const tab = await browser.open();
    const ids = await tab.evaluate(async () => {
      const outbox = await (globalThis as any).sluice.Outbox.open({ name: 'api', baseUrl: location.origin });
      outbox.start();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await outbox.enqueue({ url: `/api/tab/${i}`, body: { i }, group: 'tab' }));
      return ids;
    });
    await arrived;
    // The worker's sync event finds the lock taken; the tab is closed under its request.
    await page.evaluate(async () => {
      const registration = (await navigator.serviceWorker.getRegistration('/pagesync/')) as ServiceWorkerRegistration & { sync: { register(tag: string): Promise<void> } };
      await registration.sync.register('api');
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await tab.close();
    hold = false;
    for (const res of held.splice(0)) cutOff++, res.writeHead(201).end();
    // No page asks: the sync event still running delivers, long before Chromium's next sync (5 minutes on).
    await until(() => ids.every((id) => times(id) > 0), 45_000);
    expect(ids.map(times)).toEqual([1 + cutOff, 1, 1]);
    expect(await waiting()).toBe(0);
  }, 120_000);

  // All engines: a page that leaves while its enqueue commits. A group of tasks is stored whole or not at all, and
  // whatever was stored the worker delivers, once each.
  it('a page reloaded mid-enqueue: the tasks are stored all or none, and the worker delivers those once each', async () => {
    const outcomes: number[] = [];
    for (const [round, delayMs] of [0, 2, 5, 10, 20].entries()) {
      const ids = Array.from({ length: 20 }, (_, i) => `reload-${round}-${i}`);
      const tab = await browser.open();
      await tab
        .evaluate(
          async ({ ids, delayMs }) => {
            const outbox = await (globalThis as any).sluice.Outbox.open({ name: 'api', baseUrl: location.origin });
            void outbox.enqueueMany(ids.map((id: string) => ({ id, url: `/api/reload/${id}`, body: { id, pad: 'x'.repeat(4_000) }, group: id })));
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            location.reload();
          },
          { ids, delayMs },
        )
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await tab.close();
      const all = () => ids.every((id) => times(id) > 0);
      for (let i = 0; i < 10 && !all(); i++) {
        await askFlush();
        await until(all, 300);
      }
      const counts = ids.map(times);
      // All or none, and once each.
      expect(counts.every((n) => n === counts[0]) && counts[0]! <= 1).toBe(true);
      outcomes.push(counts[0]!);
    }
    expect(await waiting()).toBe(0);
    console.log(`${engine.label}: stored whole in ${outcomes.filter((n) => n === 1).length} of ${outcomes.length} reloads`);
  }, 120_000);

  // All engines: the server flapping (reachable, then not, every 150 ms) while the worker delivers, a page asking it to
  // flush now and then, as one does on 'online' and 'visibilitychange'. Only answered requests count: each task once.
  it('the network flapping while the worker delivers: every task arrives, each answered once', async () => {
    const ids = [...(await enqueue('/api/flap-a', 10, 'flap-a')), ...(await enqueue('/api/flap-b', 10))];
    refused = 0;
    down = true;
    const flapping = setInterval(() => (down = !down), 150);
    try {
      for (let i = 0; i < 20; i++) {
        await askFlush();
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    } finally {
      clearInterval(flapping);
      down = false;
    }
    const all = () => ids.every((id) => times(id) > 0);
    for (let i = 0; i < 40 && !all(); i++) {
      await askFlush();
      await until(all, 500);
    }
    expect(refused).toBeGreaterThan(0); // the flaps met requests
    expect(ids.map(times)).toEqual(ids.map(() => 1));
    // In each group's order.
    const order = (prefix: string) => ledger.filter((k) => ids.includes(k)).filter((k) => ids.indexOf(k) < 10 === (prefix === 'a'));
    expect(order('a')).toEqual(ids.slice(0, 10));
    expect(order('b')).toEqual(ids.slice(10));
    expect(await waiting()).toBe(0);
  }, 90_000);
});
