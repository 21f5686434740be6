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
      this.#probe();
    });
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
    return this.#manual === undefined ? Math.max(0, this.#probeAt - monotonic(this.#clock)) : 0;
  }

  /** Overrides what sends and hints say, until called again. */
  set(online: boolean): void {
    const was = this.online;
    this.#manual = online;
    this.#failures = 0;
    this.#probeAt = 0;
    if (online) this.#reachable = true;
    if (was !== online) this.#changed(online);
    // Told online, as an 'online' event says it (where there are none, as in Node): what the network failed goes now.
    if (online) this.#probe();
  }

  /** A send came back with a response (true) or a network error (false). */
  saw(reachable: boolean): void {
    const was = this.online;
    if (reachable) {
      this.#failures = 0;
      this.#probeAt = 0;
    } else {
      this.#failures++;
      const { initialDelayMs, maxDelayMs, factor } = this.#policy;
      // A retry policy of no delay (retry at once, a few times) must not make the probes a storm while offline.
      this.#probeAt = monotonic(this.#clock) + Math.max(MIN_PROBE_GAP_MS, Math.min(maxDelayMs, initialDelayMs * factor ** (this.#failures - 1)));
    }
    this.#reachable = reachable;
    if (was !== this.online) this.#changed(this.online);
    if (reachable && !was) this.#wake();
  }

  close(): void {
    this.#unsubscribe?.();
  }
}
