import type { Cluster, Redis } from 'ioredis';
import { within } from './attempt.js';

/** The first wait before a refused subscription is asked again; it doubles up to `RESUBSCRIBE_MAX_MS`. */
const RESUBSCRIBE_MS = 100;
const RESUBSCRIBE_MAX_MS = 5_000;

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
 * consumer asleep beside a full queue. A subscription refused (a connection not yet up, a server restarting) is
 * asked again, waking the channel's watchers each time meanwhile: a queue that has `watch` is never polled, and a
 * subscription given up on would leave its consumers asleep for good. For the same reason a subscriber connection
 * that stops answering is made again (see `#check`).
 */
export class Watches {
  readonly #make: () => Redis | Cluster;
  readonly #warn: (message: string) => void;
  readonly #quitMs: number;
  /** How often a subscriber connection with subscriptions is asked whether it is still there, and how long it has to answer. */
  readonly #healthMs: number;
  readonly #channels = new Map<string, Set<Watcher>>();
  /** Subscriptions to ask for again (see `#subscribe`). */
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();
  #subscriber: Redis | Cluster | undefined;
  #health: ReturnType<typeof setInterval> | undefined;
  #checking = false;

  /**
   * `quitMs`: how long closing waits for the server to answer QUIT before it drops the connection. `healthMs`: see
   * `#check` (a handle's heartbeat lifetime: a connection silent that long is as gone as a handle that is).
   */
  constructor(make: () => Redis | Cluster, warn: (message: string) => void, quitMs: number, healthMs: number) {
    this.#make = make;
    this.#warn = warn;
    this.#quitMs = quitMs;
    this.#healthMs = healthMs;
  }

  /** Calls `listener` soon after a handle other than `owner` commits to `channel`. Returns an unsubscribe function. */
  add(channel: string, owner: string, listener: () => void): () => void {
    const watcher: Watcher = { owner, listener };
    let watchers = this.#channels.get(channel);
    if (!watchers) {
      watchers = new Set();
      this.#channels.set(channel, watchers);
      this.#subscribe(channel, watchers, 0);
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
    clearInterval(this.#health);
    // Consumers still waiting (their queues left open as the store closes) are woken to look: they meet ERR_CLOSED,
    // where nothing else would ever wake them.
    const waiting = [...this.#channels.values()];
    this.#channels.clear();
    for (const watchers of waiting) for (const { listener } of watchers) listener();
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
    if (!subscriber) return;
    try {
      await within(subscriber.quit(), this.#quitMs, () => new Error('no answer to QUIT'));
    } catch {
      subscriber.disconnect();
    }
  }

  /** Subscribes to `channel` for `watchers`, asking again after a refusal for as long as they watch. */
  #subscribe(channel: string, watchers: Set<Watcher>, refusals: number): void {
    this.#connect()
      .subscribe(channel)
      .then(
        () => this.#wake(channel),
        (error: Error) => {
          if (this.#channels.get(channel) !== watchers) return;
          if (refusals === 0) this.#warn(`sluice: cannot subscribe to ${channel} (${error.message}); asking again, and its consumers look for commits meanwhile.`);
          const timer = setTimeout(
            () => {
              this.#retries.delete(timer);
              if (this.#channels.get(channel) !== watchers) return;
              // A commit may have come while nobody listened.
              this.#wake(channel);
              this.#subscribe(channel, watchers, refusals + 1);
            },
            Math.min(RESUBSCRIBE_MS * 2 ** refusals, RESUBSCRIBE_MAX_MS),
          );
          // A watch keeps no process alive (the queue's own timers decide that).
          timer.unref?.();
          this.#retries.add(timer);
        },
      );
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
    this.#health = setInterval(() => void this.#check(subscriber), this.#healthMs);
    this.#health.unref?.();
    return subscriber;
  }

  /**
   * A connection that died without a word (a NAT or load balancer dropped the idle flow: no FIN, no RST) would leave
   * every consumer asleep beside a full queue, while the commands connection, which heartbeats keep busy, works. One
   * that does not answer a PING in time is dropped and made again; its watchers are woken once it is back (`ready`).
   * A Cluster's subscriber connection is one node's, which ioredis keeps while that node hangs (stopped, cut off
   * without a word) and one PING cannot judge: its watchers are woken at each check instead, so that a node that hung
   * costs a consumer at most that long, never its sleep beside a full queue.
   */
  async #check(subscriber: Redis | Cluster): Promise<void> {
    if ((subscriber as { isCluster?: boolean }).isCluster) {
      for (const channel of this.#channels.keys()) this.#wake(channel);
      return;
    }
    if (this.#checking || this.#channels.size === 0 || subscriber.status !== 'ready') return;
    this.#checking = true;
    try {
      await within(subscriber.ping(), this.#healthMs, () => new Error('no answer to PING'));
    } catch {
      if (this.#subscriber === subscriber) subscriber.disconnect(true);
    } finally {
      this.#checking = false;
    }
  }

  #wake(channel: string, from?: string): void {
    for (const { owner, listener } of this.#channels.get(channel) ?? []) if (owner !== from) listener();
  }
}
