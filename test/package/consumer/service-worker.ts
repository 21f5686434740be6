// The service-worker recipe of the README, compiled with the webworker lib against the packed package.
import { Outbox } from 'sluice';
import { backgroundSync } from 'sluice/sw';

declare const self: ServiceWorkerGlobalScope;

const outbox = Outbox.open({ name: 'api' });
backgroundSync(outbox, { tag: 'api', scope: self });
self.addEventListener('fetch', (event) => {
  if (event.request.method === 'POST') event.respondWith(outbox.then((o) => o.fetch(event.request)));
});
