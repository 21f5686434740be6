import type { Cluster, Redis } from 'ioredis';
import { systemClock, type Clock } from '../../core/clock.js';
import { within } from './attempt.js';

/** How often the server's time is read again: two machines' oscillators drift apart far less than a lease meanwhile. */
export const REREAD_MS = 30_000;
/** A reading whose round trip took longer says too little of when the server read its clock (half of it, either way). */
const MAX_ROUND_TRIP_MS = 500;

/**
 * The Redis server's time, as the deadlines of a store's queues are kept in: a lease's end, a release's delay, a
 * retry's time. They are written by one machine and judged by another, so they must be read on one clock: with each
 * machine's own, one whose clock runs an hour ahead takes items leased elsewhere at once, and its acks remove items
 * another machine holds now; a delay stored by it waits an hour too long on the others.
 *
 * The server's `TIME` is read when the store opens its first queue and every `REREAD_MS` after (in the background,
 * when read), and carried forward between readings on this process's monotonic clock: a step of this machine's wall
 * clock (NTP, a laptop waking) changes nothing. Before the first reading, and where `TIME` is refused, it is this
 * machine's wall clock.
 */
export class ServerClock implements Clock {
  readonly monotonic = (): number => performance.now();
  readonly setTimeout = systemClock.setTimeout;
  readonly clearTimeout = systemClock.clearTimeout;
  /** Where `TIME` is read: a standalone server, or a Cluster's first primary by address, the same for every client. */
  readonly #server: () => Redis | undefined;
  readonly #answerMs: number;
  /** The server's time less the monotonic reading, as last read; undefined before the first reading. */
  #offset: number | undefined;
  #readAt = -Infinity;
  #reading: Promise<void> | undefined;

  constructor(client: () => Redis | Cluster | undefined, answerMs: number) {
    this.#server = () => {
      const c = client();
      if (!c?.isCluster) return c as Redis | undefined;
      return (c as Cluster).nodes('master').sort((a, b) => address(a).localeCompare(address(b)))[0];
    };
    this.#answerMs = answerMs;
  }

  now(): number {
    const at = performance.now();
    if (at - this.#readAt > REREAD_MS) void this.read();
    return this.#offset === undefined ? Date.now() : this.#offset + at;
  }

  /** This machine's wall clock less the server's, as last read (0 before the first reading). */
  get skewMs(): number {
    return this.#offset === undefined ? 0 : Date.now() - this.now();
  }

  /** Reads the server's time unless it was read already: a store's first queue opens on the server's time. */
  async ready(): Promise<void> {
    // Twice at most: the first TIME may wait for the connection, and its round trip then says nothing.
    for (let tries = 0; tries < 2 && this.#offset === undefined; tries++) await this.read();
  }

  /** Reads the server's time (once at a time); never rejects: a failed reading leaves the last one in place. */
  read(): Promise<void> {
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
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
      if (back - sent <= MAX_ROUND_TRIP_MS) this.#offset = Number(seconds) * 1000 + Number(micros) / 1000 - (sent + back) / 2;
    } catch {
      // Refused (a managed service may rename TIME) or unanswered: the last reading, or this machine's clock, goes on.
    }
    this.#readAt = performance.now();
  }
}

function address({ options }: Redis): string {
  return `${options.host}:${options.port}`;
}
