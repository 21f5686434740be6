import type { Cluster, Redis } from 'ioredis';
import { defineScripts } from './scripts.js';

/** What a heartbeat names: its key, the tombstone a judge leaves, and what to beat once its owner was judged gone. */
export interface Beat {
  readonly key: string;
  readonly tombstone: string;
  /** The owner was judged gone: the handle takes a new owner and returns its heartbeat, beaten from now on. */
  readonly gone: () => Beat;
}

/**
 * How long a tombstone says "gone" (see scripts.ts): a day, whatever each store's ownerTtlMs. An owner's beat that
 * finds its key expired makes it again only within half of that since its last refresh, when a judge's tombstone
 * would still be there; past it (a key lasting longer than that expired later still) the owner takes a new name.
 */
export const GONE_TTL_MS = 86_400_000;

/**
 * Keeps the heartbeat keys of a store's open handles alive: one timer per store refreshes every key with a TTL of
 * `ttlMs`, a third of that apart. A handle whose process dies stops being refreshed; its key expires, and other
 * handles then see it gone (`isGone`) and take its leases back without waiting for them to expire.
 */
export class Heartbeats {
  readonly #client: () => Redis | Cluster;
  readonly #ttlMs: number;
  readonly #warn: (message: string) => void;
  /** Key -> what it beats for, and when it was last refreshed. */
  readonly #beats = new Map<string, { beat: Beat; ok: number }>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(client: () => Redis | Cluster, ttlMs: number, warn: (message: string) => void) {
    this.#client = client;
    this.#ttlMs = ttlMs;
    this.#warn = warn;
  }

  /** Writes the key now (so that the handle is alive before it can lease anything) and keeps it alive. */
  async start(beat: Beat): Promise<void> {
    const made = await defineScripts(this.#client()).sluiceBeat1(beat.key, beat.tombstone, this.#ttlMs, '1');
    // A random owner nobody has judged: only a clash of ids could leave a tombstone.
    if (made === 0) throw new Error(`heartbeat ${beat.key} has a tombstone`);
    this.#add(beat);
  }

  /** Stops refreshing `key` (the caller deletes it: a handle that closed is gone at once). */
  stop(key: string): void {
    this.#beats.delete(key);
    if (this.#beats.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #add(beat: Beat): void {
    this.#beats.set(beat.key, { beat, ok: Date.now() });
    if (!this.#timer) {
      this.#timer = setInterval(() => this.beat(), Math.max(1, Math.floor(this.#ttlMs / 3)));
      // The heartbeat alone never keeps a process running; open connections do, until closed.
      this.#timer.unref?.();
    }
  }

  /** Refreshes every key now (on the timer, and at once after a reconnection, before the handles' next commits). */
  beat(): void {
    if (this.#beats.size === 0) return;
    const scripts = defineScripts(this.#client());
    for (const [key, entry] of this.#beats) {
      const sent = Date.now();
      const remake = sent - entry.ok < GONE_TTL_MS / 2 ? '1' : '0';
      scripts.sluiceBeat1(key, entry.beat.tombstone, this.#ttlMs, remake).then(
        (reply) => {
          if (this.#beats.get(key) !== entry) return;
          if (reply !== 0) {
            entry.ok = sent;
            return;
          }
          // Judged gone: its leases may be in other hands now. Going on under this name would have every later lease
          // taken back by handles that know it gone; a new name starts clean.
          this.stop(key);
          // Beaten at once, on the connection the handle commits on: the key is made before any lease under the name.
          this.#add(entry.beat.gone());
          this.beat();
          this.#warn(
            `sluice: heartbeat ${key} had expired (no refresh for ${this.#ttlMs} ms) and another handle took its leases back: this handle goes on under a new owner; acks of those items will fail with ERR_LEASE_EXPIRED.`,
          );
        },
        (error: unknown) => {
          // Unreachable, or refused: the next beat tries again; meanwhile other handles may take this one for gone.
          this.#warn(`sluice: cannot refresh heartbeat ${key} (${error instanceof Error ? error.message : String(error)}); if this lasts ownerTtlMs, other handles take its leases back.`);
        },
      );
    }
  }
}
