import { SluiceError } from '../core/errors.js';
import { check, invalid, optional, optionsObject, text } from '../core/validate.js';

/** What `backgroundSync` needs of an outbox (an `Outbox` has it all). */
export interface SyncableOutbox extends EventTarget {
  flush(options?: { readonly reachable?: boolean }): Promise<{ readonly sent: number; readonly retried: number; readonly dead: number; readonly remaining: number }>;
  size(): Promise<number>;
  /** False while the outbox believes the network is gone (an `Outbox` says so); absent: taken as there. */
  readonly online?: boolean;
  /** The pending tasks in these states (an `Outbox` has it); absent: a sync event does not wait for another handle. */
  list?(options: { readonly state: readonly ('ready' | 'sending' | 'retrying' | 'scheduled')[]; readonly limit: number }): Promise<readonly unknown[]>;
}

/** Options of `backgroundSync`. */
export interface BackgroundSyncOptions {
  /**
   * The Background Sync tag to register and answer.
   * @default 'sluice'
   */
  readonly tag?: string | undefined;
  /**
   * The service worker's global scope. Pass one only to test.
   * @default globalThis (`self` in a service worker)
   */
  readonly scope?: EventTarget | undefined;
}

/** Where there is no sync event to come back: how soon a worker flushes again what a flush left, and at most how far apart. */
const AGAIN_FIRST_MS = 1_000;
const AGAIN_MAX_MS = 60_000;
const SYNC_RULES = { tag: optional(text), scope: optional(['an EventTarget', (v) => typeof (v as EventTarget | null)?.addEventListener === 'function']) } as const;

/**
 * A flush sent, retried and buried nothing, though tasks wait that could go now: another handle sends them. (A
 * worker's own requests never reach its fetch handler: none is handed over.) A task in flight says so; a ready one
 * only while none waits for a retry or its time: one behind such a task in its group, or to a host that asked for a
 * wait, is listed ready too, yet goes no sooner for flushing again (the event held a minute, the worker flushing on).
 */
const heldElsewhere = async (o: SyncableOutbox, r: Awaited<ReturnType<SyncableOutbox['flush']>>) => {
  if (r.sent + r.retried + r.dead > 0 || !o.list) return false;
  const some = async (state: 'ready' | 'sending' | 'retrying' | 'scheduled') => (await o.list!({ state: [state], limit: 1 })).length > 0;
  return (await some('sending')) || ((await some('ready')) && !(await some('retrying')) && !(await some('scheduled')));
};

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
 * that the browser tries again later (except on `event.lastChance`, after which no sync follows); a flush that sent
 * nothing while tasks could go (another handle delivers) is tried again within the event for about a minute. A sync
 * event, like every trigger here but a refused registration, means the network is back: tasks a network failure held
 * back go at once, while waits a server asked for (a Retry-After, a 503's backoff) are kept. Where it does not, or
 * refuses the tag, the outbox is flushed on start-up (or on the refusal), on `online`, and on a `{ type: 'sluice:flush' }` message
 * from a page. Each enqueue of the worker's own also tries what waits, as the backoff allows: the fetch handler's
 * `outbox.fetch` stores a live request behind its group's waiting tasks without a send, so that, with only the triggers
 * above, one failure had every later request of its group stored (202) with the server back, until the browser's next
 * sync (5 minutes later in Chromium) or, in Firefox and Safari, a page's message or the worker's next start. So does
 * the outbox hearing the network back itself. A bad `outbox` or option throws 'ERR_INVALID_OPTION' (a promise that
 * resolves to no outbox: each sync event rejects with it). Returns a function that stops listening.
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
  if (typeof (outbox as Partial<SyncableOutbox> | null)?.flush !== 'function' && typeof (outbox as Partial<Promise<unknown>> | null)?.then !== 'function') {
    invalid('outbox', 'an outbox or the promise Outbox.open returns', outbox);
  }
  check(optionsObject(options, 'options', Object.keys(SYNC_RULES)), SYNC_RULES);
  const tag = options.tag ?? 'sluice';
  const scope = (options.scope ?? globalThis) as ServiceWorkerScope;
  // Where this global is no worker's (Node, say), the scope must be given: what is refused here is the missing option.
  if (typeof scope.addEventListener !== 'function') invalid('scope', 'an EventTarget (here, outside a worker, one must be given)', options.scope);
  const opened = Promise.resolve(outbox);
  // What the promise resolves to is checked as the outbox itself is: a mistake (a `.then` that loses the outbox on
  // the way) is said once, as an unhandled rejection, and each sync event rejects with it, rather than a TypeError.
  // An open that fails is the caller's own promise's to report.
  const ready = opened.then((o) => {
    const it = o as Partial<SyncableOutbox> | null | undefined;
    if (typeof it?.flush !== 'function' || typeof it.size !== 'function') invalid('outbox', 'an outbox (here, what the promise given resolved to)', o);
    return o;
  });
  void opened.then(() => ready, () => undefined);
  const sync = scope.registration?.sync;
  const listeners: [EventTarget, string, EventListener][] = [];
  let stopped = false;
  const on = (target: EventTarget, type: string, listener: EventListener) => {
    if (stopped) return;
    target.addEventListener(type, listener);
    listeners.push([target, type, listener]);
  };
  // Failures of a background flush are the outbox's to report ('error' events); here they only must not escape.
  // Each trigger but a refused registration says the network is there (the browser saw it come back, or a page says
  // so): waits that only a network failure caused end at once. A refusal comes right after an enqueue, most often of
  // a request the network just failed: it is no sign of the network, and must not end the probe backoff.
  // A flush asked for before a stop whose outbox opens after it is not run: stopped means this does nothing more
  // (with `on`, which adds no listener once stopped, this also keeps a refusal after a stop from falling back).
  const flushQuietly = (reachable = true) =>
    ready
      .then((o) => (stopped ? undefined : o.flush({ reachable })))
      .then((result) => {
        if (result) again(result.remaining);
        return result;
      })
      .catch(() => undefined);

  // Where no sync event comes back for what a flush leaves (no Background Sync, or the tag refused), nothing else
  // tried it again while the worker ran: a task a server failed (a 500, a 429 with its Retry-After) waited, the server
  // back and a page open, for the next page message, 'online' or start of the worker. While tasks remain, the worker
  // flushes again, 1 s after, then 2, 4… up to a minute apart (each flush sends only what its backoff lets go).
  let timer: ReturnType<typeof setTimeout> | undefined;
  let askSync: (() => void) | undefined;
  let delayMs = AGAIN_FIRST_MS;
  const cancelAgain = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  // What a page's message left is flushed again so too (the sync event it asks for may come minutes later), while
  // the worker runs, until a flush leaves none.
  let asked = false;
  const again = (remaining: number) => {
    if ((!noSyncBack && !asked) || stopped) return;
    if (remaining === 0) {
      asked = false;
      // All went (a page's message, 'online'): a flush armed before would find nothing, or what a page stored since.
      cancelAgain();
      delayMs = AGAIN_FIRST_MS;
      return;
    }
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flushQuietly(false);
    }, delayMs);
    delayMs = Math.min(delayMs * 2, AGAIN_MAX_MS);
  };

  on(scope, 'message', (event) => {
    const message = event as ExtendableMessageEvent;
    if ((message.data as { type?: unknown } | null)?.type !== 'sluice:flush') return;
    // A sync event comes back only while the tag is registered: what the flush left (a 500 to a task a page stored,
    // which registered nothing here) waited, the worker running, for the next trigger, no sync asked for.
    const flushing = flushQuietly().then((result) => {
      if (!result || result.remaining === 0 || noSyncBack) return;
      asked = true;
      askSync?.();
      again(result.remaining);
    });
    // A plain MessageEvent (a dedicated worker's) has no waitUntil: the flush runs all the same.
    if (typeof message.waitUntil === 'function') message.waitUntil(flushing);
  });

  // Without Background Sync, or where it refuses this tag (permission denied, no active worker yet), the network
  // coming back is heard of as 'online'; the flush now covers what waits.
  let hearsOnline = false;
  // No sync event comes back for what a flush leaves: no Background Sync, or the last registration was refused.
  let noSyncBack = sync === undefined;
  const fallBack = (reachable: boolean) => {
    if (!hearsOnline) on(scope, 'online', () => void flushQuietly());
    hearsOnline = true;
    return flushQuietly(reachable);
  };

  if (sync) {
    // A refusal that throws rather than rejects (a polyfill, a shim) falls back all the same, and escapes nowhere.
    // A worker woken by a sync event must not register the tag again on start-up: Chromium would fire one more sync
    // at once, for nothing; the event's own flush rejects while tasks remain, which asks for the next one.
    let heardSync = false;
    // Registered: a sync event comes back for what remains, so the flushes again of an earlier refusal end.
    const registered = () => {
      noSyncBack = false;
      if (!asked) cancelAgain();
      return true;
    };
    const refused = () => {
      noSyncBack = true;
      return fallBack(false).then(() => false);
    };
    const register = (): Promise<boolean> => new Promise<void>((resolve) => resolve(sync.register(tag))).then(registered, refused);
    askSync = () => void register();
    on(scope, 'sync', (event) => {
      const syncEvent = event as SyncEvent;
      if (syncEvent.tag !== tag) return;
      heardSync = true;
      syncEvent.waitUntil(
        ready.then(async (o) => {
          let result = await o.flush({ reachable: true });
          // The network lost while it sent (all tabs closed, no 'online' heard in the worker): probed again within the
          // event, as the outbox's backoff lets a probe go, rather than left to the browser's next sync.
          // Not once the outbox is online again by another's doing (a page's message, its own 'online'): they send.
          // And a flush that tried nothing though tasks could go (another handle delivers): should that one die part way
          // (the old version of the worker stopped after an update, a page closed mid-request), what it held waited
          // for the browser's next sync. 1 s after, then 2, 4…: four times offline, six (about a minute) so.
          for (let i = 0; i < 6 && result.remaining > 0 && !stopped; i++) {
            const offline = o.online === false;
            if (offline ? i > 3 : !(await heldElsewhere(o, result))) break;
            await new Promise((resolve) => setTimeout(resolve, 1_000 << i));
            if (stopped || (offline && o.online !== false)) break;
            result = await o.flush({ reachable: false });
          }
          // Rejecting asks the browser to fire the sync again later, with its own backoff; on its last chance none
          // follows, so there is nothing to ask: what remains goes on the next enqueue, start-up or page message.
          if (result.remaining > 0 && !syncEvent.lastChance) {
            throw new SluiceError('ERR_STORAGE', `${result.remaining} tasks are still waiting to be delivered.`);
          }
        }),
      );
    });
    void ready
      .then(async (o) => {
        // And what waits is tried now, as the backoff allows, where the tag was not refused (a refusal flushes).
        on(o, 'enqueue', () => void register().then((registered) => (registered ? flushQuietly(false) : undefined)));
        // An outbox that cannot say what it holds may hold something: the sync event's flush finds out. And what
        // waits is tried now, as the backoff allows: a registration that joins one waiting out the browser's backoff
        // (a new version of the worker after a failed sync) brings no event for minutes.
        if ((await o.size().catch(() => 1)) > 0 && !stopped && !heardSync && (await register())) {
          const result = await flushQuietly(false);
          // A new version starts while the old one is still active: the sync event its registration brings goes to
          // the old one, and while the old one delivers (the lock taken) this flush sends nothing. Should the old one
          // be stopped part way, no sync came back for minutes: what is left is flushed again, as after a message.
          if (result && !heardSync && (await heldElsewhere(o, result))) {
            asked = true;
            again(result.remaining);
          }
        }
      })
      // Neither an outbox that never opened nor one closed meanwhile (its list rejects) is this start-up's to report.
      .catch(() => undefined);
  } else {
    void fallBack(true);
    void ready.then((o) => on(o, 'enqueue', () => void flushQuietly(false)), () => undefined);
  }
  // The outbox heard the network back itself (a live request of another group answered): what waits goes now.
  void ready.then((o) => on(o, 'online', () => void flushQuietly()), () => undefined);
  return () => {
    stopped = true;
    cancelAgain();
    for (const [target, type, listener] of listeners) target.removeEventListener(type, listener);
  };
}
