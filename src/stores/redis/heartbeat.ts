import type { Cluster, Redis } from 'ioredis';

/**
 * Keeps the heartbeat keys of a store's open handles alive: one timer per store refreshes every key with a TTL of
 * `ttlMs`, a third of that apart. A handle whose process dies stops being refreshed; its key expires, and other
 * handles then see it gone (`isGone`) and take its leases back without waiting for them to expire.
 */
export class Heartbeats {
  readonly #client: () => Redis | Cluster;
  readonly #ttlMs: number;
  readonly #warn: (message: string) => void;
  readonly #keys = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(client: () => Redis | Cluster, ttlMs: number, warn: (message: string) => void) {
    this.#client = client;
    this.#ttlMs = ttlMs;
    this.#warn = warn;
  }

  /** Writes `key` now (so that the handle is alive before it can lease anything) and keeps it alive. */
  async start(key: string): Promise<void> {
    await this.#client().set(key, '1', 'PX', this.#ttlMs);
    this.#keys.add(key);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#beat(), Math.max(1, Math.floor(this.#ttlMs / 3)));
      // The heartbeat alone never keeps a process running; open connections do, until closed.
      this.#timer.unref?.();
    }
  }

  /** Stops refreshing `key` (the caller deletes it: a handle that closed is gone at once). */
  stop(key: string): void {
    this.#keys.delete(key);
    this.#idle();
  }

  #idle(): void {
    if (this.#keys.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #beat(): void {
    if (this.#keys.size === 0) return;
    const client = this.#client();
    for (const key of this.#keys) {
      // SET ... GET says what was there: nothing means the key expired, so other handles may have counted this one
      // as gone and taken its leases back (a stalled process, or Redis unreachable for longer than the TTL).
      client.set(key, '1', 'PX', this.#ttlMs, 'GET').then(
        (previous) => {
          if (previous === null && this.#keys.has(key)) {
            this.#warn(`sluice: heartbeat ${key} had expired (no refresh for ${this.#ttlMs} ms): other handles may have taken its leases back; acks of those items will fail with ERR_LEASE_EXPIRED.`);
          }
        },
        () => undefined, // Unreachable now: the client reconnects, and the next beat tries again.
      );
    }
  }
}
