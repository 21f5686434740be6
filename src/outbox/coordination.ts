import { onPageRestore } from './page-hide.js';

/**
 * What one handle tells the others about tasks that left the outbox, wait for a retry, or were given back untried
 * ('released', detail `{ ids }`: a handle that found them leased need not wait for that lease to end), or removed
 * ('removed', detail `{ entries }`: handles of earlier versions find that out when they next take them); and asks
 * the handle holding tasks to remove them, and its answer ('withdraw', 'withdrawn': see `Removal`).
 */
export interface Relayed {
  readonly type: 'sent' | 'dead' | 'handed-over' | 'retry' | 'released' | 'removed' | 'withdraw' | 'withdrawn';
  readonly detail: object;
  /** Of a retry: why it waits (a success ends a wait for the network), for a handle that takes over delivery. */
  readonly cause?: 'network' | 'server';
  /**
   * The task's entry in the outbox's queue, which every handle indexes by: its id is the user's, and may be shared by
   * several tasks. Absent from handles of earlier versions (they are found by task id) and from tasks that never
   * entered the queue.
   */
  readonly entry?: string;
}

interface LockManagerLike {
  request(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<void> | void): Promise<unknown>;
}

/**
 * Handles of one outbox in several tabs and workers: exactly one delivers at a time (a Web Lock held while
 * delivering) and every handle hears what was sent, buried or retried (a BroadcastChannel). Where either API is missing
 * (Node), a handle is alone and always may deliver. The globals are read when a handle opens, never at import.
 */
export class Coordination {
  readonly #name: string;
  readonly #locks: LockManagerLike | undefined;
  readonly #channel: BroadcastChannel | undefined;
  #held = false;
  #waiting = false;
  #release: (() => void) | undefined;
  #closed = false;
  readonly #outgoing: Relayed[] = [];

  /**
   * `onGranted` is also called when the page comes back from the back/forward cache (see `#restored`), so that a
   * running handle asks for the lock again at once; `page` is where that is heard.
   */
  constructor(name: string, options: { onMessage: (messages: readonly Relayed[]) => void; onGranted: () => void; broadcast: boolean; page?: EventTarget | undefined }) {
    this.#name = `sluice-outbox:${name}`;
    const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
    this.#locks = typeof nav?.locks?.request === 'function' ? nav.locks : undefined;
    this.#onGranted = options.onGranted;
    const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
    if (options.broadcast && typeof Channel === 'function') {
      const channel = new Channel(this.#name);
      channel.onmessage = (event: MessageEvent) => options.onMessage(Array.isArray(event.data) ? (event.data as Relayed[]) : []);
      // Node keeps a process alive while a channel is open; an outbox must not.
      (channel as unknown as { unref?: () => void }).unref?.();
      this.#channel = channel;
    }
    this.#unrestore = onPageRestore(() => {
      this.#restored();
      this.#onGranted();
    }, options.page);
  }

  readonly #unrestore: (() => void) | undefined;

  readonly #onGranted: () => void;

  /**
   * True when this handle may deliver now: it holds the lock, or gets it at once. Otherwise, when `queue` is set (a
   * running outbox), it queues for the lock and calls `onGranted` once it has it, so a tab takes over delivery as
   * soon as the one delivering closes.
   */
  async mayDeliver(queue: boolean): Promise<boolean> {
    const locks = this.#locks;
    if (!locks || this.#held) return true;
    const hold = (): Promise<void> => {
      this.#held = true;
      return new Promise<void>((resolve) => (this.#release = resolve));
    };
    const granted = await new Promise<boolean>((resolve) => {
      locks
        .request(this.#name, { ifAvailable: true }, (lock) => {
          resolve(lock !== null && !this.#closed);
          return lock !== null && !this.#closed ? hold() : undefined;
        })
        .catch(() => resolve(false));
    });
    if (granted || !queue || this.#waiting || this.#closed) return granted;
    this.#waiting = true;
    void locks
      .request(this.#name, {}, () => {
        this.#waiting = false;
        if (this.#closed) return;
        const held = hold();
        this.#onGranted();
        return held;
      })
      .catch(() => (this.#waiting = false));
    return false;
  }

  /** Whether other handles may hear what this one posts. */
  get relays(): boolean {
    return this.#channel !== undefined;
  }

  /** True when this handle holds the delivery lock, or there is no lock to hold (synchronous, for unload). */
  holdsOrAlone(): boolean {
    return !this.#locks || this.#held;
  }

  /** Lets another handle deliver. */
  yieldDelivery(): void {
    this.#held = false;
    this.#release?.();
    this.#release = undefined;
  }

  /**
   * Relays `message` to the other handles; messages of one tick travel together (one structured clone). A task goes
   * without its body and headers: a relayed event says which task left, and a body (a photo, say) is not copied
   * to every tab for it.
   */
  post(message: Relayed): void {
    if (!this.#channel) return;
    const { task } = message.detail as { task?: object };
    if (task) {
      const detail = without(message.detail, 'response');
      detail.task = without(task, 'body', 'headers');
      const light = without(message, 'detail');
      light.detail = detail;
      message = light as unknown as Relayed;
    }
    this.#outgoing.push(message);
    if (this.#outgoing.length > 1) return;
    queueMicrotask(() => {
      const batch = this.#outgoing.splice(0);
      try {
        this.#channel?.postMessage(batch);
      } catch {
        // A detail that cannot be cloned (a user's exotic body) is not relayed; the local event already fired.
      }
    });
  }

  /**
   * The page is back from the back/forward cache, where WebKit lets its Web Locks go (their callbacks never settle):
   * the delivery lock, and a place queued for it, are no longer this handle's, however it looks from here. The grant
   * is ended all the same (should the platform have kept it); the next pass asks for the lock again.
   */
  #restored(): void {
    this.yieldDelivery();
    this.#waiting = false;
  }

  close(): void {
    this.#unrestore?.();
    this.#closed = true;
    this.yieldDelivery();
    this.#channel?.close();
  }
}

/** A copy of `from` without the fields `drop` names: a loop, where rest destructuring takes a slow path on every task. */
function without(from: object, ...drop: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in from) if (!drop.includes(key)) out[key] = (from as Record<string, unknown>)[key];
  return out;
}
