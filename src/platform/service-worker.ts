import { SluiceError } from '../core/errors.js';

/** What `backgroundSync` needs of an outbox (an `Outbox` has it all). */
export interface SyncableOutbox extends EventTarget {
  flush(options?: { readonly reachable?: boolean }): Promise<{ readonly sent: number; readonly retried: number; readonly dead: number; readonly remaining: number }>;
  size(): Promise<number>;
}

/** Options of `backgroundSync`. */
export interface BackgroundSyncOptions {
  /**
   * The Background Sync tag to register and answer.
   * @default 'sluice'
   */
  readonly tag?: string;
  /**
   * The service worker's global scope. Pass one only to test.
   * @default globalThis (`self` in a service worker)
   */
  readonly scope?: EventTarget;
}

interface SyncEvent extends Event {
  readonly tag: string;
  /** True on the browser's last attempt for this registration: no sync event follows, whatever it resolves. */
  readonly lastChance?: boolean;
  waitUntil(promise: Promise<unknown>): void;
}

interface ExtendableMessageEvent extends Event {
  readonly data: unknown;
  waitUntil(promise: Promise<unknown>): void;
}

interface ServiceWorkerScope extends EventTarget {
  readonly registration?: { readonly sync?: { register(tag: string): Promise<void> } };
}

/**
 * Delivers `outbox` from a service worker. Where Background Sync exists, the tag is registered after each enqueue
 * and on start-up when tasks wait, and each `sync` event flushes inside `waitUntil`, rejecting while tasks remain so
 * that the browser tries again later (except on `event.lastChance`, after which no sync follows). A sync event, like
 * every trigger here, means the network is back: tasks a network failure held back go at once, while waits a server
 * asked for (a Retry-After, a 503's backoff) are kept. Where it does not, the outbox is flushed on start-up, on `online`, and on a
 * `{ type: 'sluice:flush' }` message from a page. Returns a function that stops listening.
 *
 * `outbox` may be the promise `Outbox.open` returns: a service worker must add its event listeners while its script
 * first runs, before any await, or the browser does not deliver those events to it.
 *
 * @example
 * // sw.js
 * const outbox = Outbox.open({ name: 'api' });
 * backgroundSync(outbox, { tag: 'api' });
 * self.addEventListener('fetch', (event) => {
 *   if (event.request.method === 'POST') event.respondWith(outbox.then((o) => o.fetch(event.request)));
 * });
 */
export function backgroundSync(outbox: SyncableOutbox | Promise<SyncableOutbox>, options: BackgroundSyncOptions = {}): () => void {
  const tag = options.tag ?? 'sluice';
  if (typeof tag !== 'string' || tag === '') {
    throw new SluiceError('ERR_INVALID_OPTION', `Expected \`tag\` to be a non-empty string, got ${String(tag)}.`);
  }
  const scope = (options.scope ?? globalThis) as ServiceWorkerScope;
  const ready = Promise.resolve(outbox);
  const sync = scope.registration?.sync;
  const listeners: [EventTarget, string, EventListener][] = [];
  let stopped = false;
  const on = (target: EventTarget, type: string, listener: EventListener) => {
    if (stopped) return;
    target.addEventListener(type, listener);
    listeners.push([target, type, listener]);
  };
  // Failures of a background flush are the outbox's to report ('error' events); here they only must not escape.
  // Each trigger says the network is there (the browser saw it come back, or a page says so): waits that only a
  // network failure caused end at once.
  const flushQuietly = () => ready.then((o) => o.flush({ reachable: true })).catch(() => undefined);

  on(scope, 'message', (event) => {
    const message = event as ExtendableMessageEvent;
    if ((message.data as { type?: unknown } | null)?.type === 'sluice:flush') message.waitUntil(flushQuietly());
  });

  if (sync) {
    const register = () => sync.register(tag).catch(() => flushQuietly());
    on(scope, 'sync', (event) => {
      const syncEvent = event as SyncEvent;
      if (syncEvent.tag !== tag) return;
      syncEvent.waitUntil(
        ready.then((o) => o.flush({ reachable: true })).then((result) => {
          // Rejecting asks the browser to fire the sync again later, with its own backoff; on its last chance none
          // follows, so there is nothing to ask: what remains goes on the next enqueue, start-up or page message.
          if (result.remaining > 0 && !syncEvent.lastChance) {
            throw new SluiceError('ERR_STORAGE', `${result.remaining} tasks are still waiting to be delivered.`);
          }
        }),
      );
    });
    void ready.then(
      async (o) => {
        on(o, 'enqueue', () => void register());
        if ((await o.size()) > 0) await register();
      },
      () => undefined,
    );
  } else {
    on(scope, 'online', () => void flushQuietly());
    void flushQuietly();
  }
  return () => {
    stopped = true;
    for (const [target, type, listener] of listeners) target.removeEventListener(type, listener);
  };
}
