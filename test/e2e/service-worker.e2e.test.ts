import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ES modules without types
import { browserRequired, chromiumArgs, findChromium, skipNotice } from '../browser/find-chromium.mjs';

const chromium: string | undefined = findChromium();
if (!chromium) {
  console.warn(skipNotice('the service-worker test (playwright-core)'));
  if (browserRequired) throw new Error('SLUICE_REQUIRE_BROWSER=1 and no Chromium: the browser suites cannot be skipped here.');
}

// The service worker a user would write: listeners added at once, the outbox opening behind a promise.
const worker = `
  import { Outbox } from './src/index.browser.ts';
  import { backgroundSync } from './src/sw.ts';
  const outbox = Outbox.open({ name: 'api', baseUrl: self.location.origin, retry: { initialDelayMs: 100, maxDelayMs: 200 } });
  backgroundSync(outbox, { tag: 'api' });
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
  self.addEventListener('fetch', (event) => {
    if (new URL(event.request.url).pathname.startsWith('/api/')) event.respondWith(outbox.then((o) => o.fetch(event.request)));
  });
`;

describe.skipIf(!chromium)('sluice/sw in a real service worker, in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  let apiUp = true;
  const received: { key: string | undefined; body: string }[] = [];

  beforeAll(async () => {
    const root = new URL('../../', import.meta.url).pathname;
    const bundled = await build({ stdin: { contents: worker, resolveDir: root, loader: 'ts' }, bundle: true, format: 'iife', target: 'es2022', write: false });
    const script = bundled.outputFiles[0]!.text;
    server = createServer((req, res) => {
      if (req.url === '/sw.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      if (req.url?.startsWith('/api/')) {
        // Down: the connection is cut, which fetch reports as a network error.
        if (!apiUp) return req.socket.destroy();
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          received.push({ key: req.headers['idempotency-key'] as string | undefined, body });
          res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sw</title>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await playwright.launch({
      executablePath: chromium,
      args: chromiumArgs,
    });
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.evaluate(async () => {
      await navigator.serviceWorker.register('/sw.js');
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
      }
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  const post = (text: string) =>
    page.evaluate(async (text) => {
      const res = await fetch('/api/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
      return { status: res.status, queued: res.headers.get('Sluice-Queued') };
    }, text);

  it('outbox.fetch() in the fetch handler goes to the network first', async () => {
    const result = await post('online');
    expect(result).toEqual({ status: 201, queued: null });
    expect(received.at(-1)?.body).toBe('{"text":"online"}');
  });

  it('with the network failing, the request is stored (202, Sluice-Queued), then delivered with that key on a page\'s flush message', async () => {
    apiUp = false;
    const result = await post('offline');
    expect(result.status).toBe(202);
    expect(result.queued).toMatch(/\S+/);
    apiUp = true;
    // The page asks the worker to deliver (Background Sync may also fire on its own); retry delays are short here.
    for (let i = 0; i < 50 && !received.some((r) => r.key === result.queued); i++) {
      await page.evaluate(() => navigator.serviceWorker.controller?.postMessage({ type: 'sluice:flush' }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const delivered = received.filter((r) => r.key === result.queued);
    expect(delivered.length).toBeGreaterThanOrEqual(1);
    expect(delivered[0]!.body).toBe('{"text":"offline"}');
  }, 30_000);
});
