import os from 'node:os';
import type { Cluster, Redis } from 'ioredis';
import { systemClock, type Clock } from '../../core/clock.js';
import { within } from './attempt.js';
import { addressOf, primaries } from './durability.js';

/** How often the server's time is read again: two machines' oscillators drift apart far less than a lease meanwhile. */
const REREAD_MS = 30_000;
/**
 * A reading whose round trip took longer is off by up to half of it (the server's clock is taken as read halfway: a
 * request held on the way, by a stalled link or a busy server, makes it that far ahead): read again at once at open,
 * and every SLOW_REREAD_MS after until a faster one replaces it.
 */
const SLOW_MS = 500;
const SLOW_REREAD_MS = 1000;
/** How far the wall clock may move against the monotonic one before the server's time is read again (drift is far less). */
const MOVED_MS = 1000;
/** A reading slower than the last is taken only once that one is this old: its error is half its round trip. */
const KEEP_FASTER_MS = 300_000;
/** A machine's clock this far from the server's (in ms) is said once: times its user's code takes from it are off. */
export const CLOCK_SKEW_WARN_MS = 1000;

/** The server's time at a reading, and this process's clocks then (all in ms); the reading's round trip. */
interface Reading {
  readonly server: number;
  readonly wall: number;
  readonly mono: number;
  /** The machine's uptime (ms), which counts time asleep, as the monotonic clock does not. */
  readonly boot: number;
  readonly roundTrip: number;
}

/**
 * The Redis server's time, as the deadlines of a store's queues are kept in: a lease's end, a release's delay, a
 * retry's time. They are written by one machine and judged by another, so they must be read on one clock: with each
 * machine's own, one whose clock runs an hour ahead takes items leased elsewhere at once, and its acks remove items
 * another machine holds now; a delay stored by it waits an hour too long on the others.
 *
 * The server's `TIME` (a Cluster's first primary by address, the same for every client) is read when the store opens
 * its first queue and every `REREAD_MS` after, in the background, and carried forward between readings on this
 * process's monotonic clock: a step of this machine's wall clock (NTP) changes nothing. A machine that slept (its
 * monotonic clock stood still) reads it again at its first use after waking, as after a step. Before the
 * first reading, and for good where `TIME` is refused (which `warn` says), it is this machine's wall clock.
 */
export class ServerClock implements Clock {
  readonly monotonic = (): number => performance.now();
  readonly setTimeout = systemClock.setTimeout;
  readonly clearTimeout = systemClock.clearTimeout;
  readonly #server: () => Redis | undefined;
  readonly #answerMs: number;
  readonly #warn: (message: string) => void;
  #reading: Reading | undefined;
  #readAt = -Infinity;
  #pending: Promise<void> | undefined;
  #skewTold = false;
  /** The server refuses TIME: each machine keeps to its own clock, for good (said once). */
  #refused = false;

  constructor(client: () => Redis | Cluster | undefined, answerMs: number, warn: (message: string) => void) {
    this.#server = () => {
      const c = client();
      return c && primaries(c).sort((a, b) => addressOf(a).localeCompare(addressOf(b)))[0];
    };
    this.#answerMs = answerMs;
    this.#warn = warn;
  }

  now(): number {
    const mono = performance.now();
    const r = this.#reading;
    // Gone back: fake timers installed since (a test), whose monotonic clock starts again at 0. Or the wall clock moved
    // against the monotonic one since the reading: a step (which the reading's carry ignores), or the machine slept,
    // and its monotonic clock stood still while the server's went on: the carry is behind by the sleep. Read again now,
    // not up to REREAD_MS later: leases taken meanwhile would end as soon as they are written.
    const moved = r !== undefined && Math.abs(Date.now() - mono - (r.wall - r.mono)) > MOVED_MS;
    const since = mono - this.#readAt;
    // At most every 100 ms while they stay apart: a server out of reach is not asked at every call.
    if ((moved && since > 100) || since > (r && r.roundTrip > SLOW_MS ? SLOW_REREAD_MS : REREAD_MS) || since < 0) void this.read();
    if (!r) return Date.now();
    if (mono < r.mono) return Date.now() + (r.server - r.wall);
    // Until the server answers again, the carry plus the time the machine slept since the reading, if it did.
    return r.server + (mono - r.mono) + (moved ? slept(r, mono) : 0);
  }

  /** This machine's wall clock less the server's, as last read; undefined before the first reading. */
  get skewMs(): number | undefined {
    return this.#reading && Date.now() - this.now();
  }

  /**
   * Reads the server's time unless it was read already: a store's first queue opens on the server's time. Rejects
   * when no reading came (no answer, a lost connection), for the caller to try again: a queue opened on this machine's
   * clock would write lease ends and delays that are off on every other machine's (up to REREAD_MS, the next reading).
   */
  async ready(): Promise<void> {
    if (this.#reading || this.#refused) return;
    await this.read();
    // (Read through a getter: TypeScript keeps `#reading` narrowed to undefined across the await.)
    const first = this.#last();
    if (first && first.roundTrip > SLOW_MS) await this.read();
    if (!first && !this.#refused) throw new Error("no answer to TIME: the server's time could not be read");
  }

  #last(): Reading | undefined {
    return this.#reading;
  }

  /** Reads the server's time (once at a time); never rejects: a failed reading leaves the last one in place. */
  read(): Promise<void> {
    this.#pending ??= this.#read().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  async #read(): Promise<void> {
    // Not connected (no queue open): read once one opens, whenever the clock is read next.
    const server = this.#server();
    if (!server) return;
    this.#readAt = performance.now();
    try {
      const sent = performance.now();
      const [seconds, micros] = await within(server.time(), this.#answerMs, () => new Error('no answer to TIME'));
      const back = performance.now();
      const mid = (sent + back) / 2;
      const reading = { server: Number(seconds) * 1000 + Number(micros) / 1000, wall: Date.now() - (back - mid), mono: mid, boot: os.uptime() * 1000 - (back - mid), roundTrip: back - sent };
      const last = this.#reading;
      // A faster reading is kept, but not over one that sees the clocks moved apart (see `now`).
      const apart = last !== undefined && Math.abs(reading.wall - reading.mono - (last.wall - last.mono)) > MOVED_MS;
      if (!last || apart || reading.roundTrip <= 2 * last.roundTrip + 1 || back - last.mono > KEEP_FASTER_MS) this.#reading = reading;
      this.#tellSkew();
    } catch (error) {
      // Refused (a managed service may rename or deny TIME), not merely unanswered: nothing will read it later either.
      if (/unknown command|NOPERM|no permissions/i.test(error instanceof Error ? error.message : '')) {
        this.#refused = true;
        this.#warn(
          `sluice: the Redis server refuses TIME (${(error as Error).message}): the queues on this store keep their leases, delays and retries on each machine's own clock. ` +
            "A machine whose clock runs ahead then takes items leased elsewhere: keep the machines' clocks synchronised (NTP).",
        );
      }
    }
    this.#readAt = performance.now();
  }

  /** Says once when this machine's clock is `CLOCK_SKEW_WARN_MS` or more from the server's. */
  #tellSkew(): void {
    const skew = Math.round(this.skewMs ?? 0);
    // Known to within half the reading's round trip: a slow reading alone is no skew.
    if (this.#skewTold || Math.abs(skew) - (this.#reading?.roundTrip ?? 0) / 2 < CLOCK_SKEW_WARN_MS) return;
    this.#skewTold = true;
    this.#warn(
      `sluice: this machine's clock is ${Math.abs(skew)} ms ${skew < 0 ? 'behind' : 'ahead of'} the Redis server's. Leases, delays and retries are timed by the server's clock, ` +
        `but times your code takes from this machine's (a notBefore or expiresAt from Date.now(), a clock option) are ${Math.abs(skew)} ms off on it. ` +
        "Keep the machines' clocks synchronised (NTP).",
    );
  }
}

/** How long the machine slept since `r` was read, when it did (its uptime went on past the monotonic clock); else 0. */
function slept(r: Reading, mono: number): number {
  const asleep = os.uptime() * 1000 - r.boot - (mono - r.mono);
  return asleep > MOVED_MS ? asleep : 0;
}
