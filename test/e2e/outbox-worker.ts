// The service worker a user would write: listeners added at once, the outbox opening behind a promise, its fetch
// handler answering /api/ requests through the outbox. The outbox lives in the default store (IndexedDB database
// "sluice"), where a page's `Outbox.open({ name: 'api' })` finds it too.
export const OUTBOX_WORKER = `
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
