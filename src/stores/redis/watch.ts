import type { Cluster, Redis } from 'ioredis';
import { within } from './attempt.js';

interface Watcher {
  /** The handle that watches: its own commits do not wake it. */
  readonly owner: string;
  readonly listener: () => void;
}

/**
 * Wakes a store's watchers when any handle, anywhere, commits to their queue. Every commit script publishes the
 * committer's owner on the queue's channel; one subscriber connection per store, made on the first `watch` and
 * closed with the store, listens to the channels of the queues it watches.
 *
 * Pub/sub forgets what it sent while nobody listened, so every watcher of a channel is also woken when its
 * subscription starts and after each reconnection: a commit in such a gap then costs one spurious check, never a
 * consumer asleep beside a full queue.
 */
export class Watches {
  readonly #make: () => Redis | Cluster;
  readonly #warn: (message: string) => void;
  readonly #quitMs: number;
  readonly #channels = new Map<string, Set<Watcher>>();
  #subscriber: Redis | Cluster | undefined;

  /** `quitMs`: how long closing waits for the server to answer QUIT before it drops the connection. */
  constructor(make: () => Redis | Cluster, warn: (message: string) => void, quitMs: number) {
    this.#make = make;
    this.#warn = warn;
    this.#quitMs = quitMs;
  }

  /** Calls `listener` soon after a handle other than `owner` commits to `channel`. Returns an unsubscribe function. */
  add(channel: string, owner: string, listener: () => void): () => void {
    const watcher: Watcher = { owner, listener };
    let watchers = this.#channels.get(channel);
    if (!watchers) {
      watchers = new Set();
      this.#channels.set(channel, watchers);
      const subscriber = this.#connect();
      subscriber.subscribe(channel).then(
        () => this.#wake(channel),
        (error: Error) => this.#warn(`sluice: cannot subscribe to ${channel} (${error.message}); consumers wake only on their own pushes.`),
      );
    }
    watchers.add(watcher);
    return () => {
      if (!watchers.delete(watcher) || watchers.size > 0 || this.#channels.get(channel) !== watchers) return;
      this.#channels.delete(channel);
      this.#subscriber?.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Closes the subscriber connection (the store is closing, or has no open handle left). */
  async close(): Promise<void> {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#channels.clear();
    if (!subscriber) return;
    try {
      await within(subscriber.quit(), this.#quitMs, () => new Error('no answer to QUIT'));
    } catch {
      subscriber.disconnect();
    }
  }

  #connect(): Redis | Cluster {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = this.#make();
    subscriber.on('message', (channel: string, owner: string) => this.#wake(channel, owner));
    // ioredis subscribes again after a reconnection; what was published meanwhile is lost: wake everyone once.
    let connected = false;
    subscriber.on('ready', () => {
      if (connected) for (const channel of this.#channels.keys()) this.#wake(channel);
      connected = true;
    });
    // Without a listener, ioredis prints every connection error; the reconnection is what matters here.
    subscriber.on('error', () => undefined);
    this.#subscriber = subscriber;
    return subscriber;
  }

  #wake(channel: string, from?: string): void {
    for (const { owner, listener } of this.#channels.get(channel) ?? []) if (owner !== from) listener();
  }
}
