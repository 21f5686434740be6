import { after } from '../core/clock.js';
import type { ResolvedOutboxOptions, Transport } from './options.js';
import type { Pending, PendingIndex } from './pending.js';
import { isDue } from './pending-task.js';
import { buildRequest } from './request.js';
import { taskBytes, type StoredTask } from './task.js';

interface PageTarget {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/**
 * Calls `listener` when the page is being hidden for good or for the back/forward cache ('pagehide': unlike
 * 'unload', it fires on mobile and does not spoil the cache). Undefined where there are no pages (Node, workers).
 * Reads globalThis when called, never at import; a `page` given (`OutboxOptions.page`) is listened on as it is.
 */
export function onPageHide(listener: () => void, page?: unknown): (() => void) | undefined {
  return onPage('pagehide', listener, page);
}

/** Calls `listener` when the page comes back from the back/forward cache ('pageshow', persisted); as `onPageHide`. */
export function onPageRestore(listener: () => void, page?: unknown): (() => void) | undefined {
  return onPage('pageshow', (event) => (event as Event & { persisted?: boolean }).persisted && listener(), page);
}

function onPage(type: 'pagehide' | 'pageshow', listener: (event: Event) => void, given: unknown): (() => void) | undefined {
  const page = (given ?? globalThis) as Partial<PageTarget> & Record<string, unknown>;
  // The handler property tells a global that is a page from one that is not (a worker's, Node's); a page given to
  // test is one, whatever it has (a plain EventTarget has no `onpagehide`).
  if (typeof page.addEventListener !== 'function' || (given === undefined && !(`on${type}` in page))) return undefined;
  page.addEventListener(type, listener);
  return () => page.removeEventListener?.(type, listener);
}

/** What sending as the page hides needs of the outbox. */
export interface UnloadContext {
  readonly options: ResolvedOutboxOptions;
  readonly index: PendingIndex;
  readonly transport: () => Transport;
  /**
   * Whether this handle sends as the page hides: not told offline (by `setOnline`, or the platform where `setOnline`
   * did not say otherwise), and no other tab or worker delivers; to `origin`, when it asked for no wait (a
   * `Retry-After`) that lasts yet. A failed send is no reason: Firefox and Safari fail the requests out as the page
   * leaves, just before 'pagehide', and a keepalive request that fails costs nothing (its task stays stored).
   */
  readonly delivers: (origin?: string) => boolean;
  /** A keepalive request ended (or its time limit did): its task may go again. */
  readonly kick: () => void;
}

/**
 * `OutboxOptions.unloadFlush`: on 'pagehide', this handle's own pending tasks that delivery would send now (`pick`
 * says which) go out as keepalive requests (64 KB in all, the browsers' budget), without waiting, since nothing can
 * be awaited then: so the outbox uses it only where a request needs no hook that may be async (see `for`). It
 * remembers what this handle enqueued, by entry, because storage cannot be read in time; a task the index no longer
 * holds (sent, dead, or removed, here or in another tab) is never sent, and is forgotten. The tasks stay stored: if a
 * request did not make it, the next session sends the task again with the same Idempotency-Key.
 */
export class UnloadSender {
  /** This handle's tasks, by their entry in the outbox's queue (task ids may be shared). */
  readonly #recent = new Map<number, StoredTask>();
  readonly #held: (entry: number) => boolean;
  /** How many tasks were remembered after the last look for those gone: the next look comes once that doubled. */
  #kept = 0;
  #stop: () => void = () => undefined;

  /** The sender for an outbox with these options, where they allow one and there are pages; else undefined. */
  static for(c: UnloadContext): UnloadSender | undefined {
    const { options } = c;
    // Not with `headers`, `onBeforeSend` or `batch`: a keepalive request is built synchronously in 'pagehide', so their
    // promises cannot be awaited, and a request without them (no token, a skipped task, one request per task) is not
    // the one the task asked for.
    const unload = options.unloadFlush && !options.headers && !options.onBeforeSend && !options.batch;
    if (!unload) return undefined;
    const sender = new UnloadSender((entry) => c.index.get(entry) !== undefined);
    const stop = onPageHide(() => send(sendable(sender.#recent, c), c), options.page);
    if (!stop) return undefined;
    sender.#stop = stop;
    return sender;
  }

  private constructor(held: (entry: number) => boolean) {
    this.#held = held;
  }

  /** Remembers tasks this handle stored, by entry. */
  track(stored: readonly { readonly id: string; readonly value: StoredTask }[]): void {
    for (const { id, value } of stored) this.#recent.set(Number(id), value);
    // Those gone are found when the page hides; looked for now and then, they do not pile up in a long session.
    if (this.#recent.size < 2 * Math.max(this.#kept, 64)) return;
    for (const entry of this.#recent.keys()) if (!this.#held(entry)) this.#recent.delete(entry);
    this.#kept = this.#recent.size;
  }

  close(): void {
    this.#stop();
  }
}

/**
 * Of `recent`, the tasks that may go as the page hides: when this handle delivers, those the index still holds (not
 * sent, dead or removed meanwhile, here or in another tab) and would send now, with every task of their id (see
 * `isDue`); with ordering, only a group's first task (no response can be awaited before the next).
 */
function sendable(recent: ReadonlyMap<number, StoredTask>, c: UnloadContext): [Pending, StoredTask][] {
  if (!c.delivers()) return [];
  const now = c.options.clock.now();
  const out: [Pending, StoredTask][] = [];
  for (const [entry, task] of recent) {
    const pending = c.index.get(entry);
    // A page hidden again before what its last hide sent ended (see `send`): not sent beside that.
    if (pending && !c.index.keptAlive.has(pending) && goes(pending, now) && c.index.leads(pending) && c.delivers(pending.origin) && c.index.withId(task.id).every((p) => goes(p, now))) out.push([pending, task]);
  }
  return out;
}

/** Whether delivery would send `p` now: due, or taken ahead of its request, which has not started (see `recall`). */
function goes(p: Pending, now: number): boolean {
  return isDue(p, now) || (p.state === 'busy' && p.ahead !== undefined && p.expiresAt > now);
}

/**
 * Sends `tasks` by keepalive. A page kept in the back/forward cache comes back with them pending, while their requests
 * may be out yet: delivery waits until every one has ended, aborted at its time limit (see `PendingIndex.keptAlive`),
 * so that a second request of a task's Idempotency-Key never runs beside the first (a server answering 409 to a key in
 * progress sent the task to dead), and the late keepalive copy of a group's first task never lands after a later task
 * of its group. They go again then (no response can be read into an ack here), with the same keys.
 */
function send(tasks: readonly [Pending, StoredTask][], c: UnloadContext): void {
  const transport = c.transport();
  let budget = 65_536;
  for (const [pending, task] of tasks) {
    // A body stored beside its task cannot be read in time (nothing can be awaited now): it waits for the next session.
    if (task.body && 'blob' in task.body) continue;
    const size = taskBytes(task);
    // A smaller task after it may still fit: it is never a later task of its group (see `sendable`).
    if (size > budget) continue;
    budget -= size;
    const { url, init } = buildRequest(task, {}, undefined, c.options.keyHeader);
    // Only a page that lives on (back from the cache) aborts it: a page unloaded for good has no timers left. At the
    // limit delivery goes on, should the transport not heed the abort (a custom one).
    const limit = new AbortController();
    c.index.keptAlive.set(pending, limit);
    const ended = (): void => {
      cancel();
      // Not a later hide's request for it, nor again (this one, aborted at the limit, ended after the wait it made).
      if (c.index.keptAlive.get(pending) !== limit) return;
      c.index.keptAlive.delete(pending);
      if (c.index.keptAlive.size === 0) c.kick();
    };
    const cancel = after(c.options.clock, c.options.timeoutMs, () => (limit.abort(), ended()));
    try {
      void transport(url, { ...init, keepalive: true, signal: limit.signal }).then(ended, ended);
    } catch {
      ended();
    }
  }
}
