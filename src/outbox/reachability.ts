import { monotonic, type Clock } from '../core/clock.js';
import { probeGap, type BackoffPolicy } from './backoff.js';
import type { Connectivity } from './connectivity.js';
import { invalid } from '../core/validate.js';
import { HostHolds } from './host-holds.js';

/** The most failing origins remembered (webhooks meet hosts gone for good); the oldest failure is forgotten first. */
const MAX_ORIGINS = 1000;
/**
 * A first network error of a host, within this long of an answer from another, is that host's: the network was there
 * a moment ago, and a refusal takes no time, in which none answers. Else each of many hosts that are gone (webhooks)
 * took the outbox offline in turn, to one request at a time.
 */
const FRESH_MS = 1000;
/** How many such first errors in a row, with no answer between, are put on their hosts: more is the network's. */
const STRIKES = 3;

/**
 * Whether the outbox believes the network is there, learnt mostly from its own sends (a response: online; a network
 * error: offline), with the platform's online/offline events as hints and `setOnline` as a manual override. While
 * offline it allows one probe at a time, spaced by backoff, instead of a storm of doomed requests.
 */
export class Reachability {
  readonly #clock: Clock;
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  /** Called when what `online` says changes. */
  readonly #changed: (online: boolean) => void;
  /** Called when delivery should look again at once (a response came after network failures). */
  readonly #wake: () => void;
  /** Called when the platform or `set` says the network is back: tasks a network failure holds back may go now. */
  readonly #probe: () => void;
  readonly #unsubscribe: (() => void) | undefined;
  /**
   * Whether the platform's hints are heard: not before the subscription is made whole (a listener called at once
   * would reach delivery half-built), nor once refused or closed (a hint then would reach an outbox that is gone).
   */
  #listening = false;
  readonly #connectivity: Connectivity | undefined;
  #reachable = true;
  #manual: boolean | undefined;
  #failures = 0;
  #probeAt = 0;
  /**
   * What sends have seen (responses and network errors), counted: a request takes it as it starts, to tell what came
   * while it was out (see `saw`).
   */
  #seen = 0;
  /** `#seen` at the last response: a request that saw none come while it was out cannot blame its host alone. */
  #answeredAt = 0;
  /** When the last response came (monotonic), from where, and how many first errors of hosts were theirs since (see `FRESH_MS`). */
  #answeredTime = -Infinity;
  #answeredBy: string | undefined;
  #strikes = 0;
  /** `#seen` at the last network error counted in `#failures`. */
  #failedAt = 0;
  /**
   * Origins whose requests failed with a network error since they last answered, how many failures count, `#seen` at
   * the last of them, and when each may be probed again.
   */
  readonly #origins = new Map<string, { failures: number; at: number; probeAt: number }>();
  /** Offline because requests to some origins failed (not by the platform's word): others may be probed at once. */
  #blamed = false;
  /** Origins that asked for a wait (a `Retry-After`): none of their tasks starts until it ends. */
  readonly holds: HostHolds;

  constructor(options: { clock: Clock; policy: BackoffPolicy; random: () => number; connectivity: Connectivity | undefined; changed: (online: boolean) => void; wake: () => void; probe: () => void }) {
    this.#clock = options.clock;
    this.holds = new HostHolds(options.clock);
    this.#policy = options.policy;
    this.#random = options.random;
    this.#changed = options.changed;
    this.#wake = options.wake;
    this.#probe = options.probe;
    const { connectivity } = options;
    this.#connectivity = connectivity;
    if (connectivity?.online === false) this.#reachable = false;
    const unsubscribe = connectivity?.subscribe((online) => {
      if (!this.#listening) return;
      if (!online) return this.saw(false);
      // The event is a hint: probe at once rather than trusting it blindly. The probes are tasks the network failed,
      // which would otherwise wait out their backoff (up to `maxDelayMs`) with the network long back.
      this.#probeAt = 0;
      this.#origins.clear();
      this.#probe();
    });
    // Called at close: found wrong then, the close would fail.
    if (unsubscribe !== undefined && typeof unsubscribe !== 'function') invalid('connectivity.subscribe', 'a function returning the function that stops it', unsubscribe);
    this.#unsubscribe = unsubscribe;
    this.#listening = true;
  }

  /** True when a request to `origin` failed (a network error, or no answer in time) and none answered since. */
  failing(origin: string): boolean {
    return this.#origins.has(origin);
  }

  /** How many origins are `failing`. */
  get failingCount(): number {
    return this.#origins.size;
  }

  /** What sends have seen so far: what a request passes to `saw` as when it started. */
  get seen(): number {
    return this.#seen;
  }

  /** What the outbox believes (a `setOnline` override wins). */
  get online(): boolean {
    return this.#manual ?? this.#reachable;
  }

  /** False only when told offline with `setOnline(false)`: then nothing is sent at all. */
  get allowed(): boolean {
    return this.#manual !== false;
  }

  /** True when told offline: by `setOnline(false)`, or by the platform's hint where `setOnline` did not say otherwise. */
  get toldOffline(): boolean {
    return this.#manual === undefined ? this.hintsOffline : !this.#manual;
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

  /** Which tasks a take may choose (undefined: any): while unreachable, only the probes due (see `probeDue`). */
  admits(): ((task: { readonly origin: string }) => boolean) | undefined {
    return this.#reachable ? undefined : (task) => this.probeDue(task.origin);
  }

  /**
   * Of the probes due, those to an origin that has not failed, which go first: else two silent hosts, each due again
   * as the other's probe timed out, were the probes in turn for ever, and hosts that answer got nothing.
   */
  admitsUntried(): ((task: { readonly origin: string }) => boolean) | undefined {
    return this.#reachable || this.#origins.size === 0 ? undefined : (task) => !this.#origins.has(task.origin) && this.probeDue(task.origin);
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
   * A send to `origin` came back with a response (true) or a network error (false); it started when `seen` was
   * `since`. A network error while a response came since is its host's, not the network's (one host blocked, or down,
   * as an ad blocker makes an analytics host): the others are not held back for it. The network errors of requests
   * that were already out when one was counted are that same outage, and count as one: with `concurrency` requests
   * out as the network went, each counting would push the next probe out by `factor` per request (to `maxDelayMs`
   * with ten), long after the network came back. Only a request started since, a probe, grows the gap.
   */
  saw(reachable: boolean, since?: number, origin?: string): void {
    const was = this.online;
    const now = monotonic(this.#clock);
    const mark = ++this.#seen;
    if (reachable) {
      this.#failures = 0;
      this.#probeAt = 0;
      this.#answeredAt = mark;
      this.#answeredTime = now;
      this.#answeredBy = origin;
      this.#strikes = 0;
      this.#blamed = false;
      // Told (no origin: the platform, a page, a batch's answer): every host may be there.
      if (origin !== undefined) this.#origins.delete(origin);
      else this.#origins.clear();
      if (origin !== undefined) this.holds.answered(origin);
    } else {
      const failed = origin === undefined ? undefined : this.#origins.get(origin);
      // Its host failed before, and another answered since: that host is down, not the network. Else each of its
      // probes (a refusal takes no time, in which none answers) took the outbox offline again, to one request at a time.
      const down = failed !== undefined && this.#answeredAt > failed.at;
      const same = outTogether(failed, since);
      if (origin !== undefined && !same) this.#originFailed(origin, mark, now);
      // Requests out together with a first error put on its host count among those errors: else, every host refused
      // at once (the network gone), a whole round of requests failed before the outbox went offline.
      const answered = since !== undefined && this.#answeredAt > since, struck = same && this.#strikes > 0 && !down && !answered;
      if ((answered || down || (same && !struck)) && this.#reachable) return this.#holdIfDown(origin, failed, since);
      const fresh = origin !== undefined && !failed && this.#answeredBy !== undefined && this.#answeredBy !== origin && now - this.#answeredTime <= FRESH_MS;
      if ((struck || fresh) && this.#reachable && this.#strikes < STRIKES) {
        this.#strikes++;
        return;
      }
      if (this.#failures === 0 || since === undefined || since >= this.#failedAt) {
        this.#failures++;
        this.#failedAt = mark;
        this.#probeAt = now + this.#gap(this.#failures);
        this.#blamed = origin !== undefined;
      }
    }
    this.#reachable = reachable;
    if (was !== this.online) this.#changed(this.online);
    if (reachable && !was) this.#wake();
  }

  /** Something answered, no host's answer to a task (a CORS probe, see `CorsChecks`): online; the host's failures stand. */
  networkThere(): void {
    if (this.#reachable) return;
    const was = this.online;
    [this.#failures, this.#probeAt, this.#blamed, this.#reachable] = [0, 0, false, true];
    if (was !== this.online) this.#changed(this.online);
    if (!was) this.#wake();
  }

  /**
   * A request to `origin` got no answer within its time limit (a host that takes the connection and says nothing).
   * Offline, its host waits its backoff, as one that failed does, and the next probe goes to another: never counted, it
   * was the probe again and again, each holding the one slot for the whole time limit, and the tasks of hosts that
   * answer waited behind it. Online, a host that failed so (or otherwise) before, with no answer since, is held.
   */
  unanswered(origin: string, since: number): void {
    const failed = this.#origins.get(origin);
    if (!outTogether(failed, since)) this.#originFailed(origin, ++this.#seen, monotonic(this.#clock));
    if (this.#reachable) this.#holdIfDown(origin, failed, since);
  }

  /**
   * The outbox online, a host that failed again with no answer from it since (`failed`: its record before this
   * failure), by a request sent after that (`since`), waits its backoff, every task of it, as its probes would offline:
   * else each of its tasks went on its own backoff, a storm at a host that is down, and each took a slot for as long as
   * it failed (a silent host's, the time limit). A host that answered since it last failed is there (its answer ends
   * the hold): a request that fails there (one its server resets) is the request's, and its host's other tasks go.
   */
  #holdIfDown(origin: string | undefined, failed: { failures: number; at: number } | undefined, since: number | undefined): void {
    if (origin !== undefined && failed !== undefined && !outTogether(failed, since)) this.holds.hold(origin, this.#gap(failed.failures + 1), true);
  }

  #originFailed(origin: string, mark: number, now: number): void {
    const failures = (this.#origins.get(origin)?.failures ?? 0) + 1;
    // Set anew, last in the map's order: the first is then the one whose last failure is oldest.
    this.#origins.delete(origin);
    this.#origins.set(origin, { failures, at: mark, probeAt: now + this.#gap(failures) });
    if (this.#origins.size > MAX_ORIGINS) this.#origins.delete(this.#origins.keys().next().value!);
  }

  /** The wait before the next probe after `failures` in a row. */
  #gap(failures: number): number {
    return probeGap(this.#policy, failures, this.#random);
  }

  close(): void {
    this.#listening = false;
    this.#unsubscribe?.();
  }
}

/**
 * Whether a request that started at `since` was already out when its host's failure `failed` was counted (requests
 * sent together to a host that refuses them, or time out together): the same failure, counted once, as a network's is.
 */
function outTogether(failed: { readonly at: number } | undefined, since: number | undefined): boolean {
  return failed !== undefined && since !== undefined && since < failed.at;
}
