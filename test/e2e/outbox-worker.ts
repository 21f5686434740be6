import type { IncomingMessage, ServerResponse } from 'node:http';

// The service worker a user would write: listeners added at once, the outbox opening behind a promise, its fetch
// handler answering /api/ requests through the outbox. The outbox lives in the default store (IndexedDB database
// "sluice"), where a page's `Outbox.open({ name })` finds it too.
export const outboxWorker = (name: string): string => `
  import { Outbox } from './src/index.browser.ts';
  import { backgroundSync } from './src/sw.ts';
  const outbox = Outbox.open({ name: '${name}', baseUrl: self.location.origin, retry: { initialDelayMs: 100, maxDelayMs: 200 } });
  backgroundSync(outbox, { tag: 'api' });
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
  self.addEventListener('fetch', (event) => {
    if (new URL(event.request.url).pathname.startsWith('/api/')) event.respondWith(outbox.then((o) => o.fetch(event.request)));
  });
`;

/** The worker over the outbox named 'api'. */
export const OUTBOX_WORKER = outboxWorker('api');

/** Answers a request for `path` (any query) with the bundled worker `script`; false for any other request. */
export function serveWorker(script: string, path = '/sw.js') {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.url !== path && !req.url?.startsWith(`${path}?`)) return false;
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    return true;
  };
}

/** Run in the page: registers `/sw.js` and waits until that worker controls the page (clients.claim). */
export async function registerWorker(): Promise<void> {
  await navigator.serviceWorker.register('/sw.js');
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
}
