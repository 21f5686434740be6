import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { DrivenPage } from '../browser/drive/index.mjs';
import { bundle, startBrowser, type ServedBrowser } from './browser-page.mjs';
import { eachEngine, skipLoudly } from './each-engine.js';
import { OUTBOX_WORKER, outboxWorker, registerWorker, serveWorker } from './outbox-worker.js';

// The worker a user would write (outbox-worker.ts), and, for the tests only, listeners through which its handle
// looks at the queue (size() reads it afresh), or waits until no flush has run for a while (one that an earlier
// test's event started, still running, would take a task stored since), and answers on the port.
const worker = `${OUTBOX_WORKER}
  let flushing = 0;
  let lastFlushEnd = 0;
  outbox.then((o) => {
    const flush = o.flush.bind(o);
    o.flush = (options) => {
      flushing++;
      return flush(options).finally(() => (flushing--, (lastFlushEnd = Date.now())));
    };
  });
  const quiet = async (ms) => {
    while (flushing > 0 || Date.now() - lastFlushEnd < ms) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  self.addEventListener('message', (event) => {
    if (event.data?.type === 'test:look') event.waitUntil(outbox.then((o) => o.size()).then(() => event.ports[0].postMessage('looked')));
    if (event.data?.type === 'test:quiet') event.waitUntil(quiet(event.data.ms).then(() => event.ports[0].postMessage('quiet')));
  });
`;

// How long a test watches that nothing delivers a task before it does what should.
const QUIET_MS = 1_000;

eachEngine('sluice/sw in a real service worker', (engine) => {
  // Only Chromium has Background Sync; elsewhere backgroundSync() falls back to start-up, `online` and messages.
  const backgroundSync = engine.name === 'chromium';
  let browser: ServedBrowser;
  let page: DrivenPage;
  let apiUp = true;
  const received: { path: string | undefined; key: string | undefined; body: string }[] = [];
  const deliveredWithKey = (key: string) => received.filter((r) => r.key === key);

  beforeAll(async () => {
    const serve = serveWorker(await bundle(worker));
    const serveStartup = serveWorker(await bundle(outboxWorker('startup')), '/sw-startup.js');
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      if (serve(req, res) || serveStartup(req, res)) return true;
      if (!req.url?.startsWith('/api/')) return false;
      // Down: the connection is cut, which fetch reports as a network error.
      if (!apiUp) {
        req.socket.destroy();
        return true;
      }
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push({ path: req.url, key: req.headers['idempotency-key'] as string | undefined, body });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      return true;
    };
    browser = await startBrowser(engine, { handle });
    page = await browser.open();
    await page.evaluate(registerWorker);
    const hasSyncManager = await page.evaluate(() => 'SyncManager' in self);
    // Which of backgroundSync()'s paths these tests check rests on this: say so if a browser changes.
    expect(hasSyncManager).toBe(backgroundSync);
  }, 120_000);

  afterAll(() => browser?.close());

  const post = (path: string, text: string) =>
    page.evaluate(
      async ({ path, text }) => {
        const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
        return { status: res.status, queued: res.headers.get('Sluice-Queued') };
      },
      { path, text },
    );

  // A page stores a task in the worker's outbox (a second handle on the same IndexedDB queue), and closes its
  // handle without delivering: only the worker can send it.
  const enqueueFromPage = (path: string, text: string, name = 'api') =>
    page.evaluate(
      async ({ path, text, name }) => {
        const outbox = await (globalThis as any).sluice.Outbox.open({ name, baseUrl: location.origin });
        const id: string = await outbox.enqueue({ url: path, body: { text } });
        await outbox.close();
        return id;
      },
      { path, text, name },
    );

  const waitForDelivery = async (key: string, ms = 20_000) => {
    for (const end = Date.now() + ms; deliveredWithKey(key).length === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    return deliveredWithKey(key);
  };

  const staysUndelivered = async (key: string) => {
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    return deliveredWithKey(key).length === 0;
  };

  it('outbox.fetch() in the fetch handler goes to the network first', async () => {
    const result = await post('/api/live', 'online');
    expect(result).toEqual({ status: 201, queued: null });
    expect(received.filter((r) => r.path === '/api/live').map((r) => r.body)).toEqual(['{"text":"online"}']);
  });

  it('with the network failing, the request is stored (202, Sluice-Queued), then delivered with that key', async () => {
    apiUp = false;
    const result = await post('/api/stored', 'offline');
    expect(result.status).toBe(202);
    expect(result.queued).toMatch(/\S+/);
    // Stored where another handle sees it: the one task waiting. (The server stays down until it is counted: a sync
    // event the worker's enqueue asked for could deliver it first.)
    const waiting = await page.evaluate(async () => {
      const outbox = await (globalThis as any).sluice.Outbox.open({ name: 'api', baseUrl: location.origin });
      const size: number = await outbox.size();
      await outbox.close();
      return size;
    });
    apiUp = true;
    expect(waiting).toBe(1);
    // Whatever the engine's trigger (Background Sync may fire on its own), a page's message asks for delivery.
    for (let i = 0; i < 50 && deliveredWithKey(result.queued!).length === 0; i++) {
      await page.evaluate(() => navigator.serviceWorker.controller?.postMessage({ type: 'sluice:flush' }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(deliveredWithKey(result.queued!).map((r) => [r.path, r.body])).toEqual([['/api/stored', '{"text":"offline"}']]);
  }, 30_000);

  // Asks a worker (the page's controller, or the active one of the registration of `scope`) one of the test listeners'
  // questions, and waits for its answer.
  const ask = (data: { type: string; ms?: number }, scope?: string) =>
    page.evaluate(
      async ({ data, scope }) => {
        const registration = scope ? await navigator.serviceWorker.getRegistration(scope) : undefined;
        const worker = scope ? registration!.active! : navigator.serviceWorker.controller!;
        const channel = new MessageChannel();
        const answered = new Promise((resolve) => (channel.port1.onmessage = resolve));
        worker.postMessage(data, [channel.port2]);
        await answered;
      },
      { data, scope },
    );

  // The worker's handle reads the queue afresh, so that a test starts from a worker that has seen what the page stored.
  const look = (scope?: string) => ask({ type: 'test:look' }, scope);

  // Each test starts once the page's worker has run no flush for a while: the events of the test before (a message,
  // `online`) must not deliver this test's tasks.
  beforeEach(() => ask({ type: 'test:quiet', ms: 300 }));

  // A new registration with a scope of its own, started: of the same script (a new worker over the same outbox) unless
  // `script` names another.
  const registerAnother = (scope: string, script = '/sw.js') =>
    page.evaluate(
      async ({ scope, script }) => {
        const registration = await navigator.serviceWorker.register(`${script}?${scope}`, { scope });
        const worker = registration.installing ?? registration.waiting ?? registration.active!;
        if (worker.state !== 'activated') {
          await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve(undefined)));
        }
      },
      { scope, script },
    );

  it("a page's { type: 'sluice:flush' } message makes the worker deliver what waits", async () => {
    const id = await enqueueFromPage('/api/message', 'by message');
    await look();
    expect(await staysUndelivered(id)).toBe(true);
    await page.evaluate(() => navigator.serviceWorker.controller!.postMessage({ type: 'sluice:flush' }));
    expect((await waitForDelivery(id)).map((r) => [r.path, r.body])).toEqual([['/api/message', '{"text":"by message"}']]);
  }, 30_000);

  if (!backgroundSync) {
    // The worker holds a task it stored itself; a page enqueues another; the worker's next flush sends both, in order
    // (test/outbox/tabs.test.ts pins the same in Node). Only where no Background Sync event can deliver the first
    // task meanwhile.
    it("a page's message makes the worker deliver its own stored task and one a page enqueued since", async () => {
      apiUp = false;
      const stored = await post('/api/unseen-own', 'stored by the worker');
      apiUp = true;
      expect(stored.status).toBe(202);
      const id = await enqueueFromPage('/api/unseen-page', 'enqueued by the page');
      await page.evaluate(() => navigator.serviceWorker.controller!.postMessage({ type: 'sluice:flush' }));
      await waitForDelivery(id, 3_000);
      expect(received.filter((r) => r.path?.startsWith('/api/unseen')).map((r) => r.path)).toEqual(['/api/unseen-own', '/api/unseen-page']);
    }, 30_000);
  }

  if (backgroundSync) {
    it("a sync event with the worker's tag delivers what waits (Background Sync)", async () => {
      // A registration of its own: the first one's tag is in the browser's backoff since the sync that failed above.
      await registerAnother('/sync/');
      const id = await enqueueFromPage('/api/sync', 'by sync');
      await look('/sync/');
      expect(await staysUndelivered(id)).toBe(true);
      await page.evaluate(async () => {
        const registration = (await navigator.serviceWorker.getRegistration('/sync/')) as ServiceWorkerRegistration & { sync: { register(tag: string): Promise<void> } };
        await registration.sync.register('api');
      });
      expect((await waitForDelivery(id)).map((r) => [r.path, r.body])).toEqual([['/api/sync', '{"text":"by sync"}']]);
    }, 30_000);
  } else if (engine.name === 'firefox') {
    // Offline is the API down as well as the browser offline: Firefox offline lets requests to 127.0.0.1 through, so
    // its switch alone would not keep the worker from delivering before 'online'. Up again before 'online' fires.
    const offline = async () => {
      apiUp = false;
      await browser.setOffline!(true);
    };
    const online = async () => {
      apiUp = true;
      await browser.setOffline!(false);
    };

    // Offline longer than the probe backoff the offline event starts (100 ms here): see the next test for shorter.
    it('the browser coming back online makes the worker deliver what waits (without Background Sync)', async () => {
      const id = await enqueueFromPage('/api/online', 'by online');
      await look();
      expect(await staysUndelivered(id)).toBe(true);
      await offline();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(deliveredWithKey(id)).toEqual([]);
      await online();
      expect((await waitForDelivery(id)).map((r) => [r.path, r.body])).toEqual([['/api/online', '{"text":"by online"}']]);
    }, 30_000);

    // An online event within the probe backoff the offline event set: the worker's flush is told the network is
    // back, so the backoff ends and the task goes at once.
    it('the browser coming back online at once, within the probe backoff, makes the worker deliver what waits', async () => {
      const id = await enqueueFromPage('/api/online-at-once', 'online at once');
      await look();
      await offline();
      expect(deliveredWithKey(id)).toEqual([]);
      await online();
      expect((await waitForDelivery(id, 3_000)).map((r) => r.path)).toEqual(['/api/online-at-once']);
    }, 30_000);
  } else {
    skipLoudly(
      'the browser coming back online makes the worker deliver what waits (without Background Sync)',
      engine,
      'WebKitWebDriver has no command to take MiniBrowser offline, so no real online event can be sent to its service worker',
    );
  }

  // The task waits in an outbox of its own ('startup'), which no worker has opened before: only the new worker's
  // start-up can deliver it.
  it(
    backgroundSync
      ? 'a worker that starts with tasks waiting registers its sync tag, and the sync event delivers them'
      : 'a worker that starts with tasks waiting delivers them (start-up flush, without Background Sync)',
    async () => {
      const id = await enqueueFromPage('/api/startup', 'at start-up', 'startup');
      expect(await staysUndelivered(id)).toBe(true);
      await registerAnother('/second/', '/sw-startup.js');
      expect((await waitForDelivery(id)).map((r) => [r.path, r.body])).toEqual([['/api/startup', '{"text":"at start-up"}']]);
    },
    30_000,
  );
});
