import type { Cluster, Redis } from 'ioredis';
import { messageOf } from '../../core/errors.js';
import { passingReply } from './attempt.js';
import { defineScripts, type ScriptedClient } from './scripts.js';

/** What a heartbeat names: its key, the tombstone a judge leaves, and what to beat once its owner was judged gone. */
export interface Beat {
  readonly key: string;
  readonly tombstone: string;
  /** Where the queue's primary is recorded as first heard from (see GONE in scripts.ts). */
  readonly judging: string;
  /** The queue's mark, made by the open's `start`, never by a refresh (see `QueueKeys.opened`). */
  readonly mark: string;
  /** The owner was judged gone: the handle takes a new owner and returns its heartbeat, beaten from now on. */
  readonly gone: () => Beat;
}

/**
 * How long a tombstone says "gone" (see scripts.ts): a day, whatever each store's ownerTtlMs. An owner's beat that
 * finds its key expired makes it again only within half of that since its last refresh, when a judge's tombstone
 * would still be there; past it (a key lasting longer than that expired later still) the owner takes a new name.
 */
export const GONE_TTL_MS = 86_400_000;
/** How soon a refresh refused for now (BUSY) is tried again. */
const RETRY_MS = 100;

/** A heartbeat refreshed, and when a refresh of it was last confirmed (`performance.now()`). */
interface BeatEntry {
  readonly beat: Beat;
  ok: number;
}

/**
 * Keeps the heartbeat keys of a store's open handles alive: one timer per store refreshes every key with a TTL of
 * `ttlMs`, a third of that apart. A handle whose process dies stops being refreshed; its key expires, and other
 * handles then see it gone (`isGone`) and take its leases back without waiting for them to expire.
 *
 * Each outage is told (`tell`, never deduplicated): once a refresh is refused or fails, or half of `ttlMs` passes
 * without one confirmed (a server that stopped answering, a client whose commands wait in its offline queue: neither
 * fails a command in time), it says so, once for the outage, while there is still time before other handles may take
 * the leases back; once every key is refreshed again, it says that too, and the next outage is told again. A handle
 * that was judged gone meanwhile is told apart, each time.
 */
export class Heartbeats {
  readonly #client: () => Redis | Cluster;
  readonly #ttlMs: number;
  readonly #tell: (message: string) => void;
  /**
   * Key -> what it beats for, and when it was last refreshed (when the refresh that succeeded was sent), on the
   * monotonic clock: a wall clock stepped back would leave a lapsed heartbeat looking fresh.
   */
  readonly #beats = new Map<string, BeatEntry>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Since when refreshes fail or go unanswered, once that was told; undefined while they succeed. */
  #down: number | undefined;

  constructor(client: () => Redis | Cluster, ttlMs: number, tell: (message: string) => void) {
    this.#client = client;
    this.#ttlMs = ttlMs;
    this.#tell = tell;
  }

  /**
   * Writes the key now (so that the handle is alive before it can lease anything), marks the queue made (unless
   * `renamed`, this is its open: see BEAT) and keeps the key alive. A handle renamed once judged gone (`renamed`) is kept beaten even when this
   * first write fails, as the timer's beats then make its key: it has no other name to go on under, and its leases would
   * stay in doubt for good.
   */
  async start(beat: Beat, renamed = false): Promise<void> {
    if (renamed) this.#add(beat);
    const made = await defineScripts(this.#client()).sluiceBeat4(beat.key, beat.tombstone, beat.judging, beat.mark, this.#ttlMs, '1', renamed ? '0' : '1', GONE_TTL_MS, Date.now());
    // A random owner nobody has judged: only a clash of ids could leave a tombstone.
    if (made === 0) throw new Error(`heartbeat ${beat.key} has a tombstone`);
    if (!renamed) this.#add(beat);
  }

  /** Stops refreshing `key` (the caller deletes it: a handle that closed is gone at once). */
  stop(key: string): void {
    this.#beats.delete(key);
    if (this.#beats.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#down = undefined;
    }
  }

  /**
   * True when `key` was not refreshed (a refresh confirmed) for two thirds of its lifetime, or is not beaten here at
   * all: it may have expired, and other handles may have taken its owner for gone and its leases back. Refreshed a
   * third of the lifetime apart, a live key lapses only when refreshes fail or the process stalls (stopped, starved).
   */
  lapsed(key: string): boolean {
    const entry = this.#beats.get(key);
    return !entry || performance.now() - entry.ok > (this.#ttlMs * 2) / 3;
  }

  #add(beat: Beat): void {
    this.#beats.set(beat.key, { beat, ok: performance.now() });
    if (!this.#timer) {
      this.#timer = setInterval(() => this.beat(), Math.max(1, Math.floor(this.#ttlMs / 3)));
      // The heartbeat alone never keeps a process running; open connections do, until closed.
      this.#timer.unref?.();
    }
  }

  /** Refreshes every key now (on the timer, and at once after a reconnection, before the handles' next commits). */
  beat(): void {
    if (this.#beats.size === 0) return;
    const now = performance.now();
    // Unanswered for half their lifetime: the refreshes may be stuck (a server stopped, a connection that hangs, a
    // client holding them in its offline queue), which fails no command before the keys expire.
    const stale = [...this.#beats.values()].reduce((oldest, { ok }) => Math.min(oldest, ok), now);
    if (now - stale > this.#ttlMs / 2) this.#failing(stale, `no refresh was confirmed for ${now - stale} ms`);
    const scripts = defineScripts(this.#client());
    for (const [key, entry] of this.#beats) this.#refresh(scripts, key, entry, now + this.#ttlMs / 3);
  }

  /** Refreshes `key`; one refused for now (BUSY: another's script runs) is tried again until `until`, the next beat. */
  #refresh(scripts: ScriptedClient, key: string, entry: BeatEntry, until: number): void {
    const sent = performance.now();
    const remake = sent - entry.ok < GONE_TTL_MS / 2 ? '1' : '0';
    scripts.sluiceBeat4(key, entry.beat.tombstone, entry.beat.judging, entry.beat.mark, this.#ttlMs, remake, '0', GONE_TTL_MS, Date.now()).then(
      (reply) => {
        if (this.#beats.get(key) !== entry) return;
        if (reply !== 0) {
          entry.ok = Math.max(entry.ok, sent);
          this.#recovered();
          return;
        }
        // Judged gone: its leases may be in other hands now. Going on under this name would have every later lease
        // taken back by handles that know it gone; a new name starts clean.
        this.stop(key);
        // Beaten at once, on the connection the handle commits on: the key is made before any lease under the name.
        this.#add(entry.beat.gone());
        this.beat();
        this.#tell(
          `sluice: heartbeat ${key} had expired (no refresh for ${this.#ttlMs} ms) and another handle took its leases back: this handle goes on under a new owner; acks of those items will fail with ERR_LEASE_EXPIRED.`,
        );
        this.#recovered();
      },
      (error: unknown) => {
        if (this.#beats.get(key) !== entry) return;
        // Else a burst of other apps' scripts outlasts ownerTtlMs between beats, and a live handle is taken for gone.
        if (passingReply(error) && performance.now() + RETRY_MS < until) {
          setTimeout(() => this.#beats.get(key) === entry && this.#refresh(scripts, key, entry, until), RETRY_MS).unref?.();
          return;
        }
        // Unreachable, or refused: the next beat tries again; meanwhile other handles may take this one for gone.
        this.#failing(entry.ok, `a refresh failed: ${messageOf(error)}`);
      },
    );
  }

  /** Refreshes fail or go unanswered since `since`: told once per outage. */
  #failing(since: number, why: string): void {
    if (this.#down !== undefined) return;
    this.#down = since;
    const keys = [...this.#beats.keys()];
    this.#tell(
      `sluice: cannot refresh heartbeat ${keys.length === 1 ? keys[0] : `${keys[0]} and ${keys.length - 1} more`} (${why}); if this lasts ownerTtlMs (${this.#ttlMs} ms), ` +
        "other handles take these handles' leases back and deliver their items again (the acks here then fail with ERR_LEASE_EXPIRED). Told once until refreshes succeed again.",
    );
  }

  /** A refresh succeeded: once every key is fresh again after an outage that was told, says so. */
  #recovered(): void {
    if (this.#down === undefined) return;
    const now = performance.now();
    for (const { ok } of this.#beats.values()) if (now - ok > this.#ttlMs / 2) return;
    const since = this.#down;
    this.#down = undefined;
    this.#tell(`sluice: heartbeats are refreshed again, after ${now - since} ms without a confirmed refresh.`);
  }
}
