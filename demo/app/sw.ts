// Field notes: the service worker. It keeps the app shell, so the page opens without a network, and it holds the
// same outbox as the page, so that what the page stored is delivered after every tab is closed (on a Background
// Sync event in Chromium; on start-up, on 'online' and on a page's message elsewhere).
/// <reference lib="webworker" />
import { Outbox } from 'sluice';
import { backgroundSync } from 'sluice/sw';
import { outboxOptions, SYNC_TAG } from './config';

declare const self: ServiceWorkerGlobalScope;
/** A hash of the app's files, set by the build: a new build is a new worker with a cache of its own. */
declare const SHELL_VERSION: string;

const SHELL = ['/', '/app.js', '/style.css', '/icon.svg', '/manifest.webmanifest'];
const CACHE = `field-notes-shell-${SHELL_VERSION}`;

// Listeners must be added while the script first runs, or the browser does not deliver those events to them: the
// outbox opens behind a promise that backgroundSync awaits. One handle for the worker's life: it reads what the tabs
// store as they store it, and takes up at once what a closed tab had in flight.
backgroundSync(Outbox.open(outboxOptions(self.location.origin)), { tag: SYNC_TAG });

self.addEventListener('install', (event) => {
  // The new shell is cached before this worker takes over, then it takes over at once (no waiting for every tab of
  // the old version to close): the shell is one page, and the outbox's format does not change between builds.
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith('field-notes-shell-') && key !== CACHE) await caches.delete(key);
      // Control the tabs already open, so that the first visit works offline after a reload, not after two.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  // The shell from the cache; everything else (the API, what the outbox sends, /received) to the network as it is.
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !SHELL.includes(url.pathname)) return;
  event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((cached) => cached ?? fetch(event.request)));
});
