import type { ResolvedOutboxOptions } from './options.js';
import type { PendingIndex } from './pending.js';
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
 * Reads globalThis when called, never at import.
 */
export function onPageHide(listener: () => void, target: unknown = globalThis): (() => void) | undefined {
  return onPage('pagehide', listener, target);
}

/** Calls `listener` when the page comes back from the back/forward cache ('pageshow', persisted); as `onPageHide`. */
export function onPageRestore(listener: () => void, target: unknown = globalThis): (() => void) | undefined {
  return onPage('pageshow', (event) => (event as Event & { persisted?: boolean }).persisted && listener(), target);
}

function onPage(type: 'pagehide' | 'pageshow', listener: (event: Event) => void, target: unknown): (() => void) | undefined {
  const page = target as Partial<PageTarget> & Record<string, unknown>;
  if (typeof page.addEventListener !== 'function' || !(`on${type}` in page)) return undefined;
  page.addEventListener(type, listener);
  return () => page.removeEventListener?.(type, listener);
}

/** What sending as the page hides needs of the outbox. */
export interface UnloadContext {
  readonly options: ResolvedOutboxOptions;
  readonly index: PendingIndex;
  readonly transport: () => typeof fetch;
  /** Whether this handle would deliver now: the network is there, and no other tab or worker delivers. */
  readonly delivers: () => boolean;
}

/**
 * `OutboxOptions.unloadFlush`: on 'pagehide', this handle's own pending tasks that delivery would send now (`pick`
 * says which) go out as keepalive requests (64 KB in all, the browsers' budget), without waiting, since nothing can
 * be awaited then: so the outbox uses it only where a request needs no hook that may be async (see `for`). It
 * remembers what this handle enqueued until it leaves, because storage cannot be read in time. The tasks stay
 * stored: if a request did not make it, the next session sends the task again with the same Idempotency-Key.
 */
export class UnloadSender {
  readonly #recent: Map<string, StoredTask>;
  readonly #stop: () => void;

  /** The sender for an outbox with these options, where they allow one and there are pages; else undefined. */
  static for(c: UnloadContext): UnloadSender | undefined {
    const { options } = c;
    // Only without ordering: with it, an older task may still be stored. Not with `headers`, `onBeforeSend` or `batch`
    // either: a keepalive request is built synchronously in 'pagehide', so their promises cannot be awaited, and a
    // request without them (no token, a skipped task, one request per task) is not the one the task asked for.
    const unload = options.unloadFlush && options.ordering === 'none' && !options.headers && !options.onBeforeSend && !options.batch;
    return unload ? UnloadSender.on(options.page, c.transport, (tasks) => sendable(tasks, c)) : undefined;
  }

  /** Undefined where there are no pages. `pick` chooses, when the page hides, which of the tasks may go now. */
  static on(target: unknown, transport: () => typeof fetch, pick: (tasks: StoredTask[]) => StoredTask[]): UnloadSender | undefined {
    const recent = new Map<string, StoredTask>();
    const stop = onPageHide(() => send([...recent.values()], transport(), pick), target);
    return stop && new UnloadSender(recent, stop);
  }

  private constructor(recent: Map<string, StoredTask>, stop: () => void) {
    this.#recent = recent;
    this.#stop = stop;
  }

  track(tasks: readonly StoredTask[]): void {
    for (const t of tasks) this.#recent.set(t.id, t);
  }

  /** The task left the outbox (sent or dead). */
  forget(id: string): void {
    this.#recent.delete(id);
  }

  close(): void {
    this.#stop();
  }
}

/**
 * Of `tasks`, those that may go as the page hides: when this handle delivers, those the index holds (not removed
 * meanwhile) and would send now, every task of their id (see `isDue`).
 */
function sendable(tasks: StoredTask[], c: UnloadContext): StoredTask[] {
  if (!c.delivers()) return [];
  const now = c.options.clock.now();
  return tasks.filter((t) => {
    const held = c.index.withId(t.id);
    return held[0] && held.every((p) => isDue(p, now));
  });
}

function send(recent: StoredTask[], transport: typeof fetch, pick: (tasks: StoredTask[]) => StoredTask[]): void {
  let budget = 65_536;
  for (const task of pick(recent)) {
    // A body stored beside its task cannot be read in time (nothing can be awaited now): it waits for the next session.
    if (task.body && 'blob' in task.body) continue;
    const size = taskBytes(task);
    // Without ordering (the only mode this runs in), a smaller task after it may still fit.
    if (size > budget) continue;
    budget -= size;
    const { url, init } = buildRequest(task, {}, undefined);
    void transport(url, { ...init, keepalive: true }).catch(() => undefined);
  }
}
