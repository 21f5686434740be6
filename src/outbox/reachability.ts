import { monotonic, type Clock } from '../core/clock.js';
import type { BackoffPolicy } from './backoff.js';
import type { Connectivity } from './connectivity.js';

/** The least time between probes while offline, whatever the retry policy. */
const MIN_PROBE_GAP_MS = 1000;

/**
 * Whether the outbox believes the network is there, learnt mostly from its own sends (a response: online; a network
 * error: offline), with the platform's online/offline events as hints and `setOnline` as a manual override. While
 * offline it allows one probe at a time, spaced by backoff, instead of a storm of doomed requests.
 */
export class Reachability {
  readonly #clock: Clock;
  readonly #policy: BackoffPolicy;
  /** Called when what `online` says changes. */
  readonly #changed: (online: boolean) => void;
  /** Called when delivery should look again at once (a response came after network failures). */
  readonly #wake: () => void;
  /** Called when the platform or `set` says the network is back: tasks a network failure holds back may go now. */
  readonly #probe: () => void;
  readonly #unsubscribe: (() => void) | undefined;
  readonly #connectivity: Connectivity | undefined;
  #reachable = true;
  #manual: boolean | undefined;
  #failures = 0;
  #probeAt = 0;
  /** Responses seen: a request that saw none come while it was out cannot blame its host alone. */
  #answers = 0;
  /** Origins whose requests failed with a network error since they last answered, and when each may be probed again. */
  readonly #origins = new Map<string, { failures: number; probeAt: number }>();
  /** Offline because requests to some origins failed (not by the platform's word): others may be probed at once. */
  #blamed = false;

  constructor(options: {
    clock: Clock;
    policy: BackoffPolicy;
    connectivity: Connectivity | undefined;
    changed: (online: boolean) => void;
    wake: () => void;
    probe: () => void;
  }) {
    this.#clock = options.clock;
    this.#policy = options.policy;
    this.#changed = options.changed;
    this.#wake = options.wake;
    this.#probe = options.probe;
    const { connectivity } = options;
    this.#connectivity = connectivity;
    if (connectivity?.online === false) this.#reachable = false;
    this.#unsubscribe = connectivity?.subscribe((online) => {
      if (!online) return this.saw(false);
      // The event is a hint: probe at once rather than trusting it blindly. The probes are tasks the network failed,
      // which would otherwise wait out their backoff (up to `maxDelayMs`) with the network long back.
      this.#probeAt = 0;
      this.#origins.clear();
      this.#probe();
    });
  }

  /** How many responses sends have seen (see `saw`). */
  get answers(): number {
    return this.#answers;
  }

  /** What the outbox believes (a `setOnline` override wins). */
  get online(): boolean {
    return this.#manual ?? this.#reachable;
  }

  /** False only when told offline with `setOnline(false)`: then nothing is sent at all. */
  get allowed(): boolean {
    return this.#manual !== false;
  }

  /** True when the platform's hint says the network is gone (never where it cannot tell). */
  get hintsOffline(): boolean {
    return this.#connectivity?.online === false;
  }

  /** True when sends showed the network is there (probing otherwise). */
  get reachable(): boolean {
    return this.#reachable;
  }

  /**
   * How long until the next probe may go, while unreachable (0: now). Kept on the monotonic clock: a wall-clock step
   * back must not hold the probes off for as long as it stepped.
   */
  probeIn(): number {
    if (this.#manual !== undefined) return 0;
    let at = this.#probeAt;
    if (this.#blamed && this.#origins.size > 0) {
      at = Infinity;
      for (const failed of this.#origins.values()) at = Math.min(at, failed.probeAt);
    }
    return Math.max(0, at - monotonic(this.#clock));
  }

  /** Whether a probe may go now to some origin (see `probeDue`). */
  mayProbe(): boolean {
    return this.#manual !== undefined || this.#blamed || this.#probeAt <= monotonic(this.#clock);
  }

  /**
   * Whether a probe to `origin` may go now, while unreachable: one whose requests failed waits its own backoff; any
   * other at once when what made the outbox offline was other origins failing (a blocked host), else the probe time.
   */
  probeDue(origin: string): boolean {
    const failed = this.#origins.get(origin);
    if (this.#manual !== undefined) return true;
    if (failed) return failed.probeAt <= monotonic(this.#clock);
    return this.#blamed || this.#probeAt <= monotonic(this.#clock);
  }

  /** Overrides what sends and hints say, until called again. */
  set(online: boolean): void {
    const was = this.online;
    this.#manual = online;
    this.#failures = 0;
    this.#probeAt = 0;
    this.#origins.clear();
    if (online) this.#reachable = true;
    if (was !== online) this.#changed(online);
    // Told online, as an 'online' event says it (where there are none, as in Node): what the network failed goes now.
    if (online) this.#probe();
  }

  /**
   * A send to `origin` came back with a response (true) or a network error (false). A network error of a request that
   * started when `answers` was `since`, while a response came since, is its host's, not the network's (one host
   * blocked, or down, as an ad blocker makes an analytics host): the others are not held back for it.
   */
  saw(reachable: boolean, since?: number, origin?: string): void {
    const was = this.online;
    const now = monotonic(this.#clock);
    if (reachable) {
      this.#failures = 0;
      this.#probeAt = 0;
      this.#answers++;
      this.#blamed = false;
      // Told (no origin: the platform, a page, a batch's answer): every host may be there.
      if (origin !== undefined) this.#origins.delete(origin);
      else this.#origins.clear();
    } else {
      if (origin !== undefined) {
        const failed = this.#origins.get(origin) ?? { failures: 0, probeAt: 0 };
        this.#origins.set(origin, { failures: failed.failures + 1, probeAt: now + this.#gap(failed.failures + 1) });
      }
      if (since !== undefined && this.#answers > since && this.#reachable) return;
      this.#failures++;
      this.#probeAt = now + this.#gap(this.#failures);
      this.#blamed = origin !== undefined;
    }
    this.#reachable = reachable;
    if (was !== this.online) this.#changed(this.online);
    if (reachable && !was) this.#wake();
  }

  /** The wait before the next probe after `failures` in a row. */
  #gap(failures: number): number {
    const { initialDelayMs, maxDelayMs, factor } = this.#policy;
    // A retry policy of no delay (retry at once, a few times) must not make the probes a storm while offline.
    return Math.max(MIN_PROBE_GAP_MS, Math.min(maxDelayMs, initialDelayMs * factor ** (failures - 1)));
  }

  close(): void {
    this.#unsubscribe?.();
  }
}
