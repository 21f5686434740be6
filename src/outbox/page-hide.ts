import { buildRequest } from './request.js';
import { taskBytes, type StoredTask } from './task.js';

interface PageTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/**
 * Calls `listener` when the page is being hidden for good or for the back/forward cache ('pagehide': unlike
 * 'unload', it fires on mobile and does not spoil the cache). Undefined where there are no pages (Node, workers).
 * Reads globalThis when called, never at import.
 */
export function onPageHide(listener: () => void, target: unknown = globalThis): (() => void) | undefined {
  const page = target as Partial<PageTarget> & { onpagehide?: unknown };
  if (typeof page.addEventListener !== 'function' || !('onpagehide' in page)) return undefined;
  page.addEventListener('pagehide', listener);
  return () => page.removeEventListener?.('pagehide', listener);
}

/**
 * `OutboxOptions.unloadFlush`: on 'pagehide', this handle's own pending tasks that delivery would send now (`pick`
 * says which) go out as keepalive requests (64 KB in all, the browsers' budget), without waiting, since nothing can
 * be awaited then: so the outbox uses it only where a request needs no hook that may be async (see `Outbox`). It
 * remembers what this handle enqueued until it leaves, because storage cannot be read in time. The tasks stay
 * stored: if a request did not make it, the next session sends the task again with the same Idempotency-Key.
 */
export class UnloadSender {
  readonly #recent: Map<string, StoredTask>;
  readonly #stop: () => void;

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

function send(recent: StoredTask[], transport: typeof fetch, pick: (tasks: StoredTask[]) => StoredTask[]): void {
  let budget = 65_536;
  for (const task of pick(recent)) {
    // A body stored beside its task cannot be read in time (nothing can be awaited now): it waits for the next session.
    if (task.body && 'blob' in task.body) continue;
    const size = taskBytes(task);
    if (size > budget) break;
    budget -= size;
    const { url, init } = buildRequest(task, {}, undefined);
    void transport(url, { ...init, keepalive: true }).catch(() => undefined);
  }
}
