import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrivenPage } from '../browser/drive/index.mjs';
import { bundle, startBrowser, type ServedBrowser } from './browser-page.mjs';
import { eachEngine, itOnlyIn } from './each-engine.js';
import { OUTBOX_WORKER, registerWorker, serveWorker } from './outbox-worker.js';

const worker = OUTBOX_WORKER;

interface Received {
  path: string | undefined;
  key: string | undefined;
  group: string | undefined;
  type: string | undefined;
  body: Buffer;
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

// What pages and their service worker share: requests the worker stores when the network fails, in order per
// group, large bodies included, and a page's own outbox handing its tasks to the worker.
eachEngine('An outbox in a service worker, with pages', (engine) => {
  let browser: ServedBrowser;
  let page: DrivenPage;
  let apiUp = true;
  const received: Received[] = [];
  /** Paths that reached the server while it was down (cut off unanswered). */
  const refused: (string | undefined)[] = [];

  beforeAll(async () => {
    const script = await bundle(worker);
    const serve = serveWorker(script);
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      if (serve(req, res)) return true;
      if (!req.url?.startsWith('/api/')) return false;
      if (!apiUp) {
        refused.push(req.url);
        req.socket.destroy();
        return true;
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const h = req.headers;
        received.push({ path: req.url, key: h['idempotency-key'] as string, group: h['sluice-group'] as string, type: h['content-type'], body: Buffer.concat(chunks) });
        // A server that asks for an hour's wait.
        if (req.url === '/api/busy') res.writeHead(503, { 'retry-after': '3600' }).end();
        else res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      return true;
    };
    browser = await startBrowser(engine, { handle });
    page = await browser.open();
    await page.evaluate(registerWorker);
  }, 120_000);

  afterAll(() => browser?.close());

  /** Asks the worker to flush until `done()` holds (Background Sync may fire on its own meanwhile, or not). */
  const flushUntil = async (done: () => boolean) => {
    for (let i = 0; i < 60 && !done(); i++) {
      await page.evaluate(() => navigator.serviceWorker.controller?.postMessage({ type: 'sluice:flush' }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  it("a page's outbox whose request the worker stored reports it 'handed-over', not sent", async () => {
    apiUp = false;
    const result = await page.evaluate(async () => {
      const { Outbox } = (globalThis as any).sluice;
      const outbox = await Outbox.open({ name: 'page', baseUrl: location.origin });
      const heard: any[] = [];
      outbox.addEventListener('handed-over', (e: CustomEvent) => heard.push({ id: e.detail.task.id, queuedAs: e.detail.queuedAs }));
      outbox.addEventListener('sent', () => heard.push('sent'));
      const id = await outbox.enqueue({ url: '/api/handed', body: { text: 'via the worker' } });
      const flushed = await outbox.flush();
      const left = await outbox.size();
      await outbox.close();
      return { id, flushed, left, heard };
    });
    apiUp = true;
    expect(result.flushed).toMatchObject({ sent: 0, handedOver: 1, remaining: 0 });
    expect(result.left).toBe(0);
    expect(result.heard).toEqual([{ id: result.id, queuedAs: result.id }]);
    await flushUntil(() => received.some((r) => r.path === '/api/handed'));
    expect(received.filter((r) => r.path === '/api/handed').map((r) => [r.key, r.body.toString()])).toEqual([[result.id, '{"text":"via the worker"}']]);
  }, 60_000);

  it("a live request of a group with a stored request is stored behind it, and they go in order ('Sluice-Group' not sent)", async () => {
    apiUp = false;
    const post = (path: string) =>
      page.evaluate(async (path) => {
        const res = await fetch(path, { method: 'POST', body: path, headers: { 'Sluice-Group': 'note-7' } });
        return { status: res.status, queued: res.headers.get('Sluice-Queued') };
      }, path);
    const first = await post('/api/note-7/create');
    const refusedBefore = refused.length;
    const second = await post('/api/note-7/attach');
    apiUp = true;
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    // Stored at once behind the first: the worker did not try the network for it.
    expect(refused.slice(refusedBefore)).not.toContain('/api/note-7/attach');
    await flushUntil(() => received.filter((r) => r.path?.startsWith('/api/note-7/')).length === 2);
    const note = received.filter((r) => r.path?.startsWith('/api/note-7/'));
    expect(note.map((r) => [r.path, r.key])).toEqual([
      ['/api/note-7/create', first.queued],
      ['/api/note-7/attach', second.queued],
    ]);
    expect(note.map((r) => r.group)).toEqual([undefined, undefined]);
  }, 60_000);

  it('an offline photo upload: a 2 MiB form the worker stores (202), delivered byte for byte later', async () => {
    const size = 2 * 1024 * 1024;
    apiUp = false;
    const result = await page.evaluate(async (size) => {
      const data = Uint8Array.from({ length: size }, (_, i) => (i * 13 + (i >> 9)) & 255);
      const form = new FormData();
      form.append('site', 'plot 4');
      form.append('photo', new File([data], 'plot4.jpg', { type: 'image/jpeg' }));
      const res = await fetch('/api/photos', { method: 'POST', body: form });
      return { status: res.status, queued: res.headers.get('Sluice-Queued') };
    }, size);
    apiUp = true;
    expect(result.status).toBe(202);
    await flushUntil(() => received.some((r) => r.path === '/api/photos'));
    const [upload] = received.filter((r) => r.path === '/api/photos');
    expect(upload!.key).toBe(result.queued);
    const parsed = await new Response(new Uint8Array(upload!.body), { headers: { 'content-type': upload!.type! } }).formData();
    expect(parsed.get('site')).toBe('plot 4');
    const photo = parsed.get('photo') as File;
    const expected = Uint8Array.from({ length: size }, (_, i) => (i * 13 + (i >> 9)) & 255);
    expect([photo.name, photo.size, sha(new Uint8Array(await photo.arrayBuffer()))]).toEqual(['plot4.jpg', size, sha(expected)]);
  }, 60_000);
  itOnlyIn('chromium', engine, 'a Background Sync event sends what waited for the network, and keeps the wait a server asked for', 'only Chromium has Background Sync', async () => {
    // A task the server answered 503 with Retry-After: 3600 (sent by a page's handle, through the worker).
    const busy = await page.evaluate(async () => {
      const { Outbox } = (globalThis as any).sluice;
      const outbox = await Outbox.open({ name: 'api', baseUrl: location.origin });
      const id = await outbox.enqueue({ url: '/api/busy', body: 'x', group: 'busy' });
      const flushed = await outbox.flush();
      await outbox.close();
      return { id, flushed };
    });
    expect(busy.flushed).toMatchObject({ retried: 1 });
    // A request the worker stored while the network was down.
    apiUp = false;
    const stored = await page.evaluate(async () => {
      const res = await fetch('/api/after-outage', { method: 'POST', body: 'y', headers: { 'Sluice-Group': 'outage' } });
      return { status: res.status, queued: res.headers.get('Sluice-Queued') };
    });
    apiUp = true;
    expect(stored.status).toBe(202);
    // A registration of its own (the first one's tag may be in the browser's backoff), then its sync event.
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.register('/sw.js?bsync', { scope: '/bsync/' });
      const worker = registration.installing ?? registration.waiting ?? registration.active!;
      if (worker.state !== 'activated') {
        await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve(undefined)));
      }
      await (registration as ServiceWorkerRegistration & { sync: { register(tag: string): Promise<void> } }).sync.register('api');
    });
    for (let i = 0; i < 100 && !received.some((r) => r.path === '/api/after-outage'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received.filter((r) => r.path === '/api/after-outage').map((r) => r.key)).toEqual([stored.queued]);
    // The server's hour is kept: the busy task was not sent again.
    expect(received.filter((r) => r.path === '/api/busy')).toHaveLength(1);
  }, 60_000);
});
