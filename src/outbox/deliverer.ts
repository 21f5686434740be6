import type { Queue } from '../core/queue.js';
import type { Serial } from '../core/serial.js';
import { platformConnectivity } from './connectivity.js';
import { Coordination, type Relayed } from './coordination.js';
import { RelayChecks } from './relay-checks.js';
import type { DeadMoves } from './dead-moves.js';
import type { DeliveryRun } from './delivery.js';
import { DeliveryLoop } from './delivery-loop.js';
import { Dispatcher } from './dispatcher.js';
import type { OutboxEventMap } from './events.js';
import type { ResolvedOutboxOptions, Transport } from './options.js';
import type { BodyStore } from './body-store.js';
import { putBack } from './lease-units.js';
import type { Pending, PendingIndex } from './pending.js';
import { recall } from './recall.js';
import { Reachability } from './reachability.js';
import { newRun } from './tally.js';
import { waitsFrom } from './wall-steps.js';
import type { Removal } from './removal.js';
import type { StoredTask } from './task.js';

/** What delivering needs of the outbox it serves. */
export interface DelivererContext {
  readonly options: ResolvedOutboxOptions;
  readonly queue: Queue<StoredTask>;
  readonly index: PendingIndex;
  /** Request bodies stored beside their tasks. */
  readonly bodies: BodyStore;
  /** The outbox's serialiser: index changes run one at a time. */
  readonly serial: Serial;
  readonly transport: () => Transport;
  readonly emit: (type: keyof OutboxEventMap, detail?: unknown, shown?: (detail: never) => unknown) => void;
  /** Tasks passing to and from the dead letters (made after this, hence a function). */
  readonly moves: () => DeadMoves;
  /** Removals, which other handles may ask of this one (made after this). */
  readonly removal: () => Removal;
  /** Reads in what a failed push may have stored unseen (see `PendingStore.unseen`; undefined: none). Each pass calls it. */
  readonly lookUnseen: () => Promise<void> | undefined;
  /** Nothing pending in the index (the loop found it, or a stop): the outbox checks the queue and says 'drained'. */
  readonly empty: () => Promise<void>;
  readonly closing: () => boolean;
}

/** Everything that delivers: network sight (`Reachability`), who delivers (`Coordination`), requests (`Dispatcher`), the loop. */
export class Deliverer {
  readonly #c: DelivererContext;
  readonly #reachability: Reachability;
  readonly #coordination: Coordination;
  readonly #dispatcher: Dispatcher;
  readonly #loop: DeliveryLoop;
  /** The flushes running: `stop` ends them (they start nothing more, and settle once what they started has). */
  readonly #flushes = new Set<DeliveryRun>();
  readonly #background = newRun(false, this.#flushes);
  /** Counts of work that is no delivery's (what an enqueue evicts), which no flush counts. */
  readonly #aside = newRun(false);
  readonly #checks: RelayChecks;
  /** The wall clock's time for a wait that starts now (see `waitsFrom`). */
  readonly #waitsFrom: () => number;
  readonly #tell = (error: unknown): void => this.#c.emit('error', { error });
  /** Gives back what was taken ahead of its request: at a stop, and offline (or told so: only a probe may leave). */
  readonly #unbuffer = (): Promise<void> => this.#c.serial(() => this.#dispatcher.unbuffer()).catch(this.#tell);

  constructor(context: DelivererContext) {
    this.#c = context;
    const { options } = context;
    this.#waitsFrom = waitsFrom(options.clock, context.index);
    this.#checks = new RelayChecks({ ...context, clock: options.clock, waitsFrom: () => this.#waitsFrom(), kick: () => this.#loop.kick(), withdrawal: (type, detail) => context.removal().heard(type, detail) });
    this.#coordination = new Coordination(options.store?.scope === undefined ? options.name : `${options.store.scope}:${options.name}`, {
      broadcast: true,
      page: options.page,
      onMessage: (messages) => this.#checks.hear(messages),
      // Granted while stopped: let the next handle have it. Granted while running: the handle that delivered is gone
      // or stopped, so tasks it held may be free (the queue frees a gone owner's leases at once).
      onGranted: () => {
        if (!this.#loop.running) return this.#coordination.yieldDelivery();
        for (const pending of context.index.waitingForLease()) context.index.ready(pending);
        this.#loop.kick();
      },
    });
    this.#reachability = new Reachability({
      clock: options.clock,
      policy: options.retry,
      random: options.random,
      connectivity: options.connectivity ?? platformConnectivity(),
      changed: (online) => {
        // Offline: what was taken ahead goes back, so that only a probe leaves.
        if (!online) void this.#unbuffer();
        context.emit(online ? 'online' : 'offline', { online });
      },
      wake: () => this.#loop.kick(),
      // Those the network failed may go, but while it is unproven only as probes, one at a time (a failed batch whole).
      probe: () => (this.networkBack(false), this.#loop.kick()),
    });
    this.#dispatcher = new Dispatcher(
      {
        ...context,
        reachability: this.#reachability,
        coordination: this.#coordination,
        running: () => this.#loop.running,
        toDead: (list, lease, run) => context.moves().toDead(list, lease, run),
        buried: (entries, lease, retried) => context.moves().finishCutShort(entries, lease, retried),
        delivered: (origin) => this.networkBack(false, origin, true),
        waitsFrom: () => this.#waitsFrom(),
      },
      () => this.#loop.kick(),
    );
    this.#loop = new DeliveryLoop({
      clock: options.clock,
      // A pass that cannot look fails, and is tried again later: nothing else may come to say what was stored.
      fill: () => context.lookUnseen()?.then(() => this.#fill(this.#background)) ?? this.#fill(this.#background),
      settling: () => this.#dispatcher.settling,
      idle: () => this.#idle(),
      busyWake: () => (this.#coordination.holdsOrAlone() ? this.#next(true) : undefined),
      error: (error) => {
        context.emit('error', { error });
        this.failed();
      },
    });
  }

  get online(): boolean {
    return this.#reachability.online;
  }

  get running(): boolean {
    return this.#loop.running;
  }

  /** A run for work (what an enqueue evicts or replaces) that is no delivery's: no flush counts it. */
  get aside(): DeliveryRun {
    return this.#aside;
  }

  /** Whether to send as the page hides (to `origin`: not held by a Retry-After): see `UnloadContext.delivers`. */
  sendsOnHide(origin?: string): boolean {
    return !this.#reachability.toldOffline && this.#coordination.holdsOrAlone() && !(origin !== undefined && this.#reachability.holds.held(origin));
  }

  setOnline(online: boolean): void {
    this.#reachability.set(online);
    if (!online) void this.#unbuffer();
  }

  /** What sends have seen so far: what a live `fetch` says it started at (see `Reachability.saw`). */
  seen(): number {
    return this.#reachability.seen;
  }

  /** A request outside delivery (a live `fetch` to `origin`, started when `seen` was `since`) got a response (true) or a network error (false). */
  saw(response: boolean, ok: boolean, origin: string, since: number): void {
    this.#reachability.saw(response, since, origin);
    if (ok) this.networkBack(false, origin, true);
  }

  /**
   * The network is there (a success showed it, or the platform or a page says so): tasks that wait only because the
   * network failed them are tried at once; waits a server asked for (a status, Retry-After) are kept. `told`: also
   * end the probe backoff, since it was not a send that showed it. A success at `origin` shows that origin is there:
   * only its tasks go (another's may be blocked or down). `success`: a success sends them, marked so (see `Pending.hurried`).
   */
  networkBack(told: boolean, origin?: string, success = false): void {
    if (told) this.#reachability.saw(true);
    const waiting = this.#c.index.waitingForNetwork(origin);
    for (const pending of waiting) {
      pending.hurried = success;
      this.#c.index.ready(pending);
    }
    if (waiting.length > 0) this.#loop.kick();
  }

  /**
   * A pass, or a read of what other handles stored, failed (the store failing, or gone: a database deleted under it):
   * the lock goes while nothing is in flight, so that another tab delivers; this one asks for it at its next pass.
   */
  failed(): void {
    void this.#yield(true);
  }

  /** Relays a message to the other handles. */
  post(message: Relayed): void {
    this.#coordination.post(message);
  }

  /** Whether other handles may hear this one. */
  get relays(): boolean {
    return this.#coordination.relays;
  }

  /** Gives back those of `pending` this handle took ahead of their request: pending, not in flight (see `recall`). */
  recall(pending: readonly Pending[]): Promise<void> {
    return recall(pending, (entries, lease) => putBack({ index: this.#c.index, coordination: this.#coordination, emit: this.#c.emit, options: this.#c.options, kick: () => this.#loop.kick() }, entries, lease));
  }

  kick(): void {
    this.#loop.kick();
  }

  start(): void {
    this.#loop.start();
  }

  /**
   * One run now (after `before`; a stop meanwhile ends it): each task that may go is tried once, counted once settled.
   */
  async flush(signal: AbortSignal | undefined, before?: () => Promise<void>): Promise<DeliveryRun> {
    const run = newRun(true, this.#flushes);
    const dispatcher = this.#dispatcher;
    // Ended at the abort, not at the next change: a chain or a slot that frees would go on starting requests till then.
    const abort = (): void => {
      run.over = true;
      dispatcher.wake();
    };
    signal?.addEventListener?.('abort', abort);
    this.#flushes.add(run);
    try {
      await Promise.all([before?.(), this.#checks.settled()]);
      for (;;) {
        signal?.throwIfAborted();
        const seen = dispatcher.changes;
        // Every slot busy (a freed one was taken at once from what was taken ahead): a fill would start nothing.
        const started = dispatcher.active < this.#c.options.concurrency ? await this.#fill(run) : 0;
        if (started === 0 && dispatcher.settling === 0) break;
        // Compared with the count before the fill, so a change during it is not waited for again (a lost wake-up).
        if ((started === 0 || dispatcher.active >= this.#c.options.concurrency) && seen === dispatcher.changes) await dispatcher.changed();
      }
    } finally {
      signal?.removeEventListener?.('abort', abort);
      run.over = true;
      this.#flushes.delete(run);
      this.#c.index.unpark(run.parked!);
      // What the flush parked waits again: a background loop that slept meanwhile sets its timer for those waits.
      this.#loop.kick();
      // A flush that failed too: another handle must not wait for this one's lock for as long as it lives.
      if (!this.#loop.running) await this.#yield();
      // One that failed with requests out: once they settled (not awaited: its caller hears of the failure now).
      if (!this.#loop.running && dispatcher.active + dispatcher.settling > 0) void dispatcher.settled().then(() => this.#yield());
    }
    return run;
  }

  /** Stops delivery, a flush's too; resolves when the requests in flight have ended. */
  async stop(): Promise<void> {
    for (const run of this.#flushes) run.over = true;
    this.#loop.stop();
    await this.#unbuffer();
    await this.#dispatcher.settled();
    // The last task may have settled here: 'drained', which the stopped loop no longer finds (after close(), nothing).
    if (this.#c.index.size === 0) await this.#c.empty().catch((error: unknown) => (error as { code?: unknown } | null)?.code === 'ERR_CLOSED' || this.#tell(error));
    await this.#yield();
  }

  /**
   * Lets the delivery lock go, what was taken ahead for it given back first (should that fail, it is told), once
   * nothing delivers here: no request out, no flush, no background loop (unless `failed`: its pass failed).
   */
  async #yield(failed = false): Promise<void> {
    await this.#c.serial(async () => {
      const d = this.#dispatcher;
      if ((this.#loop.running && !failed) || this.#flushes.size > 0 || d.active > 0 || d.settling > 0) return;
      await d.unbuffer().catch(this.#tell);
      this.#coordination.yieldDelivery();
    });
  }

  close(): void {
    this.#reachability.close();
    this.#coordination.close();
  }

  #fill(run: DeliveryRun): Promise<number> {
    return this.#c.serial(() => {
      if (run.over || (this.#c.closing() && !this.#loop.running && run === this.#background)) return 0;
      this.#waitsFrom();
      return this.#dispatcher.fill(run);
    });
  }

  /** Nothing runs: when something may go next (undefined: nothing waits, or nothing may go until the lock is granted). */
  async #idle(): Promise<number | undefined> {
    if (this.#c.index.size === 0) {
      await this.#c.empty();
      return undefined;
    }
    return this.#coordination.holdsOrAlone() ? this.#next() : undefined;
  }

  /** When something may go next; not sending (told offline) or offline with requests out (`busy`), an expiry alone (buried offline too). */
  #next(busy = false): number | undefined {
    const expiry = this.#dispatcher.sweep.next();
    if (!this.#reachability.allowed || (busy && !this.#reachability.reachable)) return expiry;
    const now = this.#c.options.clock.now();
    // A host's hold ending frees tasks that wait for nothing else.
    const held = this.#reachability.holds.next();
    const wake = held === undefined ? this.#c.index.nextWake() : Math.min(held, this.#c.index.nextWake() ?? held);
    const probeAt = now + this.#reachability.probeIn();
    const next = this.#reachability.reachable ? wake : Math.max(wake ?? probeAt, probeAt);
    // Busy, a wait over already found no slot in the pass just made: an answer kicks the next, not a timer each second.
    return next === undefined || (busy && next <= now) || (expiry !== undefined && expiry < next) ? expiry : next;
  }
}
