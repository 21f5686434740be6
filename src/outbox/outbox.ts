import { SluiceError } from '../core/errors.js';
import { TypedEventTarget } from '../core/typed-events.js';
import { randomId } from '../core/ids.js';
import type { Lease, LeaseEntry } from '../core/queue-types.js';
import { Queue } from '../core/queue.js';
import type { Store } from '../core/store.js';
import { platformConnectivity } from '../platform/connectivity.js';
import { backoffDelay } from './backoff.js';
import { Coordination, type Relayed } from './coordination.js';
import { DeadLetters, type DeadReason, type DeadRecord } from './dead-letters.js';
import type { DeadDetail, FlushResult, OutboxEventMap, RetryDetail, SentDetail } from './events.js';
import { resolveOutboxOptions, type OutboxOptions, type ResolvedOutboxOptions } from './options.js';
import { discard, isNetworkError, send } from './send.js';
import { buildRequest } from './request.js';
import { onPageHide } from '../platform/connectivity-pagehide.js';
import { parseRetryAfter } from './retry-after.js';
import { byPriority, Eligibility, nextWake, pick } from './scheduler.js';
import { normaliseTask, publicTask, resolveUrl, taskBytes, taskFromRequest, type HttpTask, type StoredTask } from './task.js';
import { Budget } from './budget.js';
import { packBatches } from './batching.js';
import { AckBatcher } from './acks.js';
import { reconcile, superseded } from './reconcile.js';

type Entry = LeaseEntry<StoredTask>;

/** Counts of one delivery run (a `flush`, or the background loop). */
interface Tally {
  sent: number;
  retried: number;
  dead: number;
  /** Task ids attempted in this run: a flush tries each task at most once. */
  readonly attempted: Set<string>;
}

/** A task leaving for dead: where it was, and the record it becomes. */
interface Burial {
  readonly entryId: string;
  readonly record: DeadRecord;
}

const tally = (): Tally => ({ sent: 0, retried: 0, dead: 0, attempted: new Set() });

/**
 * HTTP tasks stored first and delivered with retry. A task leaves only as sent (acked after its response) or dead
 * (moved to `dead` with its reason); retry bookkeeping lives in the queue (attempts, delays), so it survives
 * restarts; a process that dies mid-request sends the task again with the same Idempotency-Key.
 */
export class Outbox extends TypedEventTarget<OutboxEventMap> {
  /** The store used when `OutboxOptions.store` is absent. Set by the platform entries. */
  protected static defaultStore: (() => Store) | undefined;

  readonly name: string;
  readonly dead: DeadLetters;
  readonly #o: ResolvedOutboxOptions;
  readonly #queue: Queue<StoredTask>;
  readonly #graveyard: Queue<DeadRecord>;
  readonly #coord: Coordination;
  readonly #budget: Budget;
  /** Requests in flight: what `concurrency` bounds. A slot frees when the response is in. */
  readonly #active = new Set<Promise<void>>();
  /** Deliveries not yet settled (acked, delayed or buried); a superset of `#active`. */
  readonly #settling = new Set<Promise<void>>();
  /** Bumped whenever a slot frees or a delivery settles; `#changed` waits for the next bump. */
  #changes = 0;
  #changeWaiters: (() => void)[] = [];
  readonly #activeIds = new Set<string>();
  readonly #buffer: { unit: Entry[]; lease: Lease<StoredTask>; run: Tally }[] = [];
  readonly #acks: AckBatcher;
  readonly #batchUrl: string | undefined;
  readonly #background: Tally = tally();
  readonly #unsubscribe: (() => void) | undefined;
  readonly #unpage: (() => void) | undefined;
  /** Tasks this handle enqueued and has not seen leave, for `unloadFlush` (which cannot read storage in time). */
  readonly #recent = new Map<string, StoredTask>();
  #serial: Promise<unknown> = Promise.resolve();
  #running = false;
  #pumping = false;
  #again = false;
  #timer: unknown;
  #closing: Promise<void> | undefined;
  /** What sends have shown; `#manual` (from `setOnline`) overrides it. */
  #reachable = true;
  #manual: boolean | undefined;
  #probeFailures = 0;
  #probeAt = 0;
  /** Set once a task with a priority was seen: then each pass lists the queue to pick higher ones first. */
  #prioritised = false;
  #drained = true;
  /** Bumped before every enqueue: an emptiness read that started before one is stale. */
  #epoch = 0;

  /** Opens (creating when absent) the outbox `options.name` and its dead letters `<name>.dead`. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const o = resolveOutboxOptions(options);
    const store = o.store ?? this.defaultStore?.();
    // A lease outlives the request's timeout, so a live handle's task is never taken by another meanwhile. Small
    // segments: a take walks the head segment from its start, acked items included, so its cost grows with it.
    const common = { clock: o.clock, durability: o.durability, leaseMs: o.timeoutMs + 60_000, segmentItems: 128, ...(store && { store }) };
    const queue = await Queue.open<StoredTask>({ name: o.name, ...common });
    let graveyard: Queue<DeadRecord>;
    try {
      graveyard = await Queue.open<DeadRecord>({ name: `${o.name}.dead`, ...common });
    } catch (error) {
      await queue.close();
      throw error;
    }
    const outbox = new this(o, queue, graveyard);
    try {
      await reconcile(queue, graveyard);
      // Tasks left from an earlier session: 'drained' is owed once they are delivered.
      if ((await queue.size()) > 0) outbox.#drained = false;
    } catch (error) {
      await outbox.close();
      throw error;
    }
    return outbox;
  }

  /** Use `Outbox.open`. */
  protected constructor(options: ResolvedOutboxOptions, queue: Queue<StoredTask>, graveyard: Queue<DeadRecord>) {
    super();
    this.name = options.name;
    this.#o = options;
    this.#queue = queue;
    this.#graveyard = graveyard;
    this.#budget = new Budget(options.limits, queue);
    // Delivered tasks are removed by id, many per commit: the response is in, whichever lease holds them now.
    this.#acks = new AckBatcher((ids) => queue.remove(ids));
    this.#batchUrl = options.batch && resolveUrl(options.batch.url, options.baseUrl);
    this.dead = new DeadLetters(graveyard, (tasks) => this.#requeue(tasks));
    this.#coord = new Coordination(options.name, {
      broadcast: true,
      onMessage: (messages) => this.#relayed(messages),
      // Granted while stopped: let the next handle have it.
      onGranted: () => (this.#running ? this.#kick() : this.#coord.yieldDelivery()),
    });
    queue.addEventListener('change', () => this.#kick());
    const connectivity = options.connectivity ?? platformConnectivity();
    if (connectivity?.online === false) this.#reachable = false;
    this.#unpage = options.unloadFlush ? onPageHide(() => this.#unloadFlush(), options.page) : undefined;
    this.#unsubscribe = connectivity?.subscribe((online) => {
      if (online) {
        // The event is a hint: probe at once rather than trusting it blindly.
        this.#probeAt = 0;
        this.#kick();
      } else this.#setReachable(false);
    });
  }

  /** Whether the outbox believes the network is there (a `setOnline` override wins). */
  get online(): boolean {
    return this.#manual ?? this.#reachable;
  }

  /** Overrides what sends and platform events say, until called again (Node has no online events). */
  setOnline(online: boolean): void {
    const was = this.online;
    this.#manual = online;
    this.#probeFailures = 0;
    this.#probeAt = 0;
    if (online) this.#reachable = true;
    else this.#release();
    if (was !== online) this.dispatchEvent(new Event(online ? 'online' : 'offline'));
    if (online) this.#kick();
  }

  /** Stores `task` (an `HttpTask` or a `Request`) for delivery; resolves its id once it is durable. */
  async enqueue(task: HttpTask | Request): Promise<string> {
    const [id] = await this.enqueueMany([task]);
    return id!;
  }

  /** Stores `tasks` all or nothing; resolves their ids once they are durable. */
  async enqueueMany(tasks: readonly (HttpTask | Request)[]): Promise<string[]> {
    this.#checkOpen();
    if (!Array.isArray(tasks)) throw new SluiceError('ERR_INVALID_TASK', 'Expected `tasks` to be an array.');
    const now = this.#o.clock.now();
    const plain = await Promise.all(tasks.map((t) => (isRequest(t) ? taskFromRequest(t) : t)));
    const stored = plain.map((t) => normaliseTask(t, this.#o.baseUrl, now));
    if (stored.length === 0) return [];
    this.#epoch++;
    if (stored.some((t) => t.priority)) this.#prioritised = true;
    await this.#exclusive(async () => {
      const replaced = (await superseded(this.#queue, stored, (id) => this.#activeIds.has(id))).map((e) => this.#burial(e, 'superseded'));
      const evicted = await this.#budget.makeRoom(stored, replaced);
      const buried = [...replaced, ...evicted.map((e) => this.#burial(e, 'evicted'))];
      await this.#queue.pushMany(stored.filter((t) => !buried.some((b) => b.record.task === t)));
      await this.#bury(buried, undefined, this.#background);
    });
    this.#drained = false;
    const ids = stored.map((t) => t.id);
    if (this.#unpage) for (const t of stored) this.#recent.set(t.id, t);
    this.dispatchEvent(new CustomEvent('enqueue', { detail: { ids } }));
    this.#kick();
    return ids;
  }

  /**
   * Tries the network now; on a network error, stores the request and resolves a 202 whose 'Sluice-Queued' header
   * holds the task id (for service-worker fetch handlers). Responses, even 5xx ones, are returned as they are.
   */
  async fetch(input: Request | string, init?: RequestInit): Promise<Response> {
    this.#checkOpen();
    const request = new Request(input, init);
    const task = await taskFromRequest(request);
    // The live try carries the key the stored task will keep: if its response was lost, the retry is deduplicated.
    task.id ??= randomId() + randomId();
    const headers = new Headers(request.headers);
    headers.set('idempotency-key', task.id);
    try {
      const response = await this.#transport()(new Request(request, { headers }));
      this.#setReachable(true);
      return response;
    } catch (error) {
      if (!isNetworkError(error)) throw error;
      this.#setReachable(false);
      const id = await this.enqueue(task);
      return new Response(null, { status: 202, statusText: 'Accepted', headers: { 'Sluice-Queued': id } });
    }
  }

  /** One delivery run now: every task that may go is tried once. Resolves with what happened and what is left. */
  async flush(options: { readonly signal?: AbortSignal } = {}): Promise<FlushResult> {
    this.#checkOpen();
    const run = tally();
    for (;;) {
      options.signal?.throwIfAborted();
      const seen = this.#changes;
      const started = await this.#fill(run);
      if (started === 0 && this.#settling.size === 0) break;
      // Compared with the count before the fill, so a change during it is not waited for again (a lost wake-up).
      if ((started === 0 || this.#active.size >= this.#o.concurrency) && seen === this.#changes) await this.#changed();
    }
    if (!this.#running) {
      await this.#exclusive(() => this.#unbuffer());
      this.#coord.yieldDelivery();
    }
    const epoch = this.#epoch;
    const remaining = await this.#queue.size();
    if (remaining === 0) this.#drain(epoch);
    return { sent: run.sent, retried: run.retried, dead: run.dead, remaining };
  }

  /** Delivers in the background from now on: at once, when tasks arrive, when delays end, when the network returns. */
  start(): void {
    this.#checkOpen();
    this.#running = true;
    this.#kick();
  }

  /** Stops background delivery; resolves when the requests in flight have ended. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#exclusive(() => this.#unbuffer());
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
    await this.#exclusive(() => this.#unbuffer());
    this.#coord.yieldDelivery();
  }

  /** Tasks not yet sent or dead (in flight included). */
  size(): Promise<number> {
    return this.#queue.size();
  }

  /** Stops, waits for requests in flight, and closes. Later calls reject 'ERR_CLOSED'. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.stop();
      await this.#serial;
      this.#unsubscribe?.();
      this.#unpage?.();
      this.#coord.close();
      await Promise.allSettled([this.#queue.close(), this.#graveyard.close()]);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  override dispatchEvent(event: Event): boolean {
    if (this.#recent.size > 0 && (event.type === 'sent' || event.type === 'dead')) this.#recent.delete((event as CustomEvent<SentDetail>).detail.task.id);
    return super.dispatchEvent(event);
  }

  // ---- delivery ----

  /**
   * Starts what may go now in the free slots; resolves how many tasks it started. Takes a few more than the free
   * slots and keeps them leased in a buffer, so that a slot freed by a response starts the next task without
   * waiting for a storage commit.
   */
  async #fill(run: Tally): Promise<number> {
    return this.#exclusive(async () => {
      if (this.#closing && !this.#running && run === this.#background) return 0;
      let free = this.#o.concurrency - this.#active.size;
      if (free <= 0 || this.#manual === false) return 0;
      const now = this.#o.clock.now();
      if (!this.#reachable) {
        // Offline: one probe at a time, spaced by backoff, rather than a storm of doomed requests.
        if (this.#active.size > 0 || now < this.#probeAt) return 0;
        free = 1;
      }
      if (!(await this.#coord.mayDeliver(this.#running))) return 0;
      // Only without ordering: with lanes, asking for more than can be eligible makes the take walk the whole queue.
      const prefetch = this.#reachable && this.#o.ordering === 'none' ? this.#o.concurrency : 0;
      let started = this.#startBuffered(free);
      free -= started.slots;
      // Refilled below half, after starting what was there: the take's commit overlaps requests in flight.
      if ((free > 0 && this.#buffer.length === 0) || this.#buffer.length < prefetch / 2) {
        const lease = await this.#take(free + prefetch - this.#buffer.length, run, now);
        if (!lease) return started.tasks;
        // A flush tries each task once; the background loop tries again whenever a task is ready again.
        const once = run !== this.#background;
        for (const entry of lease.entries) {
          if (once) run.attempted.add(entry.value.id);
          this.#activeIds.add(entry.value.id);
        }
        const { units, leftover } = this.#o.batch
          ? packBatches(lease.entries, this.#o.ordering, this.#o.batch)
          : { units: byPriority(lease.entries).map((e) => [e]), leftover: [] };
        if (leftover.length > 0) await this.#unbuffer([{ unit: leftover, lease, run }]);
        this.#buffer.push(...units.map((unit) => ({ unit, lease, run })));
        const more = this.#startBuffered(free);
        started = { tasks: started.tasks + more.tasks, slots: started.slots + more.slots };
      }
      return started.tasks;
    });
  }

  /** Starts buffered units in up to `free` slots; says how many tasks and slots that took. */
  #startBuffered(free: number): { tasks: number; slots: number } {
    let tasks = 0;
    let slots = 0;
    for (; slots < free && this.#buffer.length > 0; slots++) {
      const { unit, lease, run } = this.#buffer.shift()!;
      tasks += unit.length;
      const freeSlot = () => {
        if (this.#active.delete(sending)) this.#change();
      };
      const sending: Promise<void> = this.#deliver(unit, lease, run, freeSlot).finally(() => {
        freeSlot();
        this.#settling.delete(sending);
        // Until settled, the tasks stay out of the next takes (their acks may not be committed yet).
        for (const e of unit) this.#activeIds.delete(e.value.id);
        this.#change();
      });
      this.#active.add(sending);
      this.#settling.add(sending);
    }
    return { tasks, slots };
  }

  /** Puts buffered (taken, not started) units back in the queue, as if never taken. */
  async #unbuffer(units = this.#buffer.splice(0)): Promise<void> {
    for (const { unit, lease, run } of units) {
      for (const e of unit) {
        run.attempted.delete(e.value.id);
        this.#activeIds.delete(e.value.id);
      }
      await lease.release(unit.map((e) => e.id));
    }
  }

  async #take(free: number, run: Tally, now: number): Promise<Lease<StoredTask> | undefined> {
    const skip = (id: string) => this.#activeIds.has(id) || run.attempted.has(id);
    const eligibility = new Eligibility({ ordering: this.#o.ordering, now, skip, perLane: this.#o.batch?.maxItems ?? 1 });
    const max = this.#o.batch ? free * this.#o.batch.maxItems : free;
    if (this.#prioritised) {
      const chosen = pick(await this.#queue.list(), eligibility, max);
      if (chosen.size === 0) return undefined;
      return this.#queue.take(chosen.size, { filter: (e) => chosen.has(e.id) });
    }
    const lease = await this.#queue.take(max, { filter: (e) => eligibility.admit(e) });
    if (eligibility.prioritised) this.#prioritised = true;
    return lease;
  }

  /** Sends one unit (a task, or a batch) and settles it: ack, release with a delay, or bury. */
  async #deliver(unit: Entry[], lease: Lease<StoredTask>, run: Tally, freeSlot: () => void): Promise<void> {
    try {
      const now = this.#o.clock.now();
      const burials: Burial[] = [];
      const ready: { entry: Entry; task: StoredTask }[] = [];
      for (const entry of unit) {
        const task = entry.value;
        if (task.expiresAt !== undefined && task.expiresAt <= now) {
          burials.push(this.#burial(entry, 'expired'));
          continue;
        }
        const edited = await this.#beforeSend(entry);
        if ('record' in edited) burials.push(edited);
        else ready.push({ entry, task: edited.task });
      }
      await this.#bury(burials, lease, run);
      if (ready.length === 0) return;
      const outcome = await this.#send(ready.map((r) => r.task));
      // The next request may start while this one's ack commits.
      freeSlot();
      await this.#settle(ready, outcome, lease, run);
    } catch (error) {
      // A storage failure mid-settle: the lease expires and the task is tried again, never lost.
      this.dispatchEvent(new CustomEvent('error', { detail: { error } }));
    }
  }

  async #beforeSend(entry: Entry): Promise<{ task: StoredTask } | Burial> {
    const hook = this.#o.onBeforeSend;
    if (!hook) return { task: entry.value };
    const stored = entry.value;
    const edited = await hook(publicTask(stored));
    if (edited === false) return this.#burial(entry, 'skipped');
    try {
      // The id (the Idempotency-Key) and the age stay the task's own, whatever the hook returns.
      const task = normaliseTask({ ...edited, id: stored.id }, this.#o.baseUrl, stored.createdAt);
      return { task };
    } catch (error) {
      return this.#burial(entry, 'invalid', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  async #send(tasks: readonly StoredTask[]): Promise<Response | Error> {
    const { outcome, reachable } = await send(tasks, {
      fetch: this.#transport(),
      clock: this.#o.clock,
      timeoutMs: this.#o.timeoutMs,
      headers: this.#o.headers,
      batchUrl: this.#batchUrl,
    });
    if (reachable !== undefined) this.#setReachable(reachable);
    return outcome;
  }

  async #settle(ready: readonly { entry: Entry; task: StoredTask }[], outcome: Response | Error, lease: Lease<StoredTask>, run: Tally): Promise<void> {
    const entries = ready.map((r) => r.entry);
    const ids = entries.map((e) => e.id);
    const verdict = this.#o.classify(outcome, publicTask(ready[0]!.task));
    const status = outcome instanceof Error ? undefined : outcome.status;
    const error = outcome instanceof Error ? outcome.message : undefined;
    try {
      if (verdict === 'sent') {
        await this.#acks.add(ids);
        run.sent += ready.length;
        for (const { entry, task } of ready) {
          const detail: SentDetail = { task: publicTask(task), status: status ?? 0, attempts: entry.attempts };
          this.dispatchEvent(new CustomEvent('sent', { detail: outcome instanceof Error ? detail : { ...detail, response: outcome } }));
          this.#coord.post({ type: 'sent', detail });
        }
        return;
      }
      const extra = { ...(status !== undefined && { status }), ...(error !== undefined && { error }) };
      if (verdict === 'dead') {
        await this.#bury(entries.map((e) => this.#burial(e, outcome instanceof Error ? 'network' : 'status', extra)), lease, run);
        return;
      }
      const now = this.#o.clock.now();
      const { retry } = this.#o;
      const attempts = Math.max(...entries.map((e) => e.attempts));
      const oldest = Math.min(...entries.map((e) => e.value.createdAt));
      if (attempts >= retry.maxAttempts || now - oldest >= retry.maxAgeMs) {
        const reason: DeadReason = attempts >= retry.maxAttempts ? 'max-attempts' : 'max-age';
        await this.#bury(entries.map((e) => this.#burial(e, reason, extra)), lease, run);
        return;
      }
      const asked = outcome instanceof Error ? undefined : parseRetryAfter(outcome.headers.get('retry-after'), now);
      const delayMs = asked ?? backoffDelay(retry, attempts, this.#o.random);
      await lease.release(ids, { delayMs });
      run.retried += ready.length;
      for (const { entry, task } of ready) {
        const detail: RetryDetail = { task: publicTask(task), attempts: entry.attempts, delayMs, ...extra };
        this.dispatchEvent(new CustomEvent('retry', { detail }));
      }
    } finally {
      if (!(outcome instanceof Error)) await discard(outcome);
    }
  }

  #burial(entry: { id: string; value: StoredTask; attempts: number }, reason: DeadReason, extra: { status?: number; error?: string } = {}): Burial {
    return { entryId: entry.id, record: { task: entry.value, reason, attempts: entry.attempts, at: this.#o.clock.now(), ...extra } };
  }

  /**
   * Moves tasks to dead: into `<name>.dead` first, then out of the outbox. A crash between leaves a task in both,
   * which `reconcile` settles on the next open; the other order could lose it.
   */
  async #bury(burials: readonly Burial[], lease: Lease<StoredTask> | undefined, run: Tally): Promise<void> {
    if (burials.length === 0) return;
    await this.#graveyard.pushMany(burials.map((b) => b.record));
    const ids = burials.map((b) => b.entryId).filter((id) => id !== '');
    if (lease) await lease.ack(ids);
    else if (ids.length > 0) await this.#queue.remove(ids);
    run.dead += burials.length;
    for (const { record } of burials) {
      const { task, reason, status, attempts, error } = record;
      const detail: DeadDetail = { task: publicTask(task), reason, attempts, ...(status !== undefined && { status }), ...(error !== undefined && { error }) };
      this.dispatchEvent(new CustomEvent('dead', { detail }));
      this.#coord.post({ type: 'dead', detail });
    }
  }

  // ---- background loop ----

  /** Runs the background loop once more (coalesced): on start, enqueue, a finished send, a timer, going online. */
  #kick(): void {
    if (!this.#running || this.#closing) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#pump().finally(() => (this.#pumping = false));
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        this.#again = false;
        while (this.#running && (await this.#fill(this.#background)) > 0);
        if (!this.#running) return;
        if (this.#settling.size === 0) await this.#schedule();
        // A kick while this pass ran (a lock granted, a task enqueued) must not be lost.
        if (!this.#again) return;
      }
    } catch (error) {
      this.dispatchEvent(new CustomEvent('error', { detail: { error } }));
    }
  }

  /** Idle: sets a timer for the next moment something may go (a delay ending, a `notBefore`, a probe). */
  async #schedule(): Promise<void> {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#o.clock.now();
    const epoch = this.#epoch;
    const entries = await this.#queue.list();
    if (entries.length === 0) {
      this.#drain(epoch);
      return;
    }
    let wake = nextWake(entries, now);
    if (!this.#reachable && this.#manual === undefined) wake = Math.max(wake ?? this.#probeAt, this.#probeAt);
    if (wake === undefined || !this.#running) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, Math.max(0, wake - now));
  }

  /** Says 'drained' once per emptying, unless an enqueue started since the emptiness was read (`epoch`). */
  #drain(epoch: number): void {
    if (this.#drained || epoch !== this.#epoch) return;
    this.#drained = true;
    this.dispatchEvent(new Event('drained'));
  }

  /**
   * The page is going away: send what fits in keepalive requests (64 KB in all, the browsers' budget), without
   * waiting, since nothing can be awaited now. The tasks stay stored: if a request did not make it, the next session
   * sends the task again with the same Idempotency-Key. Only without ordering, and only this handle's own tasks
   * not in flight: with ordering, an older task of the same group may still be stored and must go first.
   */
  #unloadFlush(): void {
    if (this.#o.ordering !== 'none' || !this.online || !this.#coord.holdsOrAlone()) return;
    let budget = 65_536;
    for (const task of this.#recent.values()) {
      if (this.#activeIds.has(task.id) || (task.notBefore ?? 0) > this.#o.clock.now()) continue;
      const size = taskBytes(task);
      if (size > budget) break;
      budget -= size;
      const { url, init } = buildRequest(task, {}, undefined);
      void this.#transport()(url, { ...init, keepalive: true }).catch(() => undefined);
    }
  }

  // ---- connectivity ----

  #setReachable(reachable: boolean): void {
    const was = this.online;
    if (reachable) {
      this.#probeFailures = 0;
      this.#probeAt = 0;
    } else {
      this.#probeFailures++;
      const { initialDelayMs, maxDelayMs, factor } = this.#o.retry;
      this.#probeAt = this.#o.clock.now() + Math.min(maxDelayMs, initialDelayMs * factor ** (this.#probeFailures - 1));
    }
    this.#reachable = reachable;
    if (!reachable) this.#release();
    if (was !== this.online) this.dispatchEvent(new Event(this.online ? 'online' : 'offline'));
    if (reachable && !was) this.#kick();
  }

  #change(): void {
    this.#changes++;
    const waiters = this.#changeWaiters;
    this.#changeWaiters = [];
    for (const wake of waiters) wake();
    this.#kick();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#changeWaiters.push(resolve));
  }

  /** Offline: what was taken ahead goes back, so that only a probe leaves. */
  #release(): void {
    if (this.#buffer.length === 0) return;
    void this.#exclusive(() => this.#unbuffer()).catch((error: unknown) => this.dispatchEvent(new CustomEvent('error', { detail: { error } })));
  }

  // ---- bookkeeping ----

  /** Puts dead tasks back with their ids, fresh age and attempts, stamped after their burial (see `reconcile`). */
  async #requeue(records: readonly DeadRecord[]): Promise<void> {
    this.#checkOpen();
    const now = this.#o.clock.now();
    this.#epoch++;
    await this.#exclusive(() => this.#queue.pushMany(records.map((r) => ({ ...r.task, createdAt: Math.max(now, r.at + 1) }))));
    this.#drained = false;
    this.#kick();
  }

  #relayed(messages: readonly Relayed[]): void {
    for (const message of messages) {
      if (message?.type !== 'sent' && message?.type !== 'dead') continue;
      this.dispatchEvent(new CustomEvent(message.type, { detail: { ...message.detail, remote: true } }));
    }
  }

  #transport(): typeof fetch {
    return this.#o.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  #exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.#serial.then(fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  #checkOpen(): void {
    if (this.#closing) throw new SluiceError('ERR_CLOSED', `Outbox "${this.name}" is closed; open it again to use it.`);
  }
}

function isRequest(value: unknown): value is Request {
  return typeof Request === 'function' && value instanceof Request;
}
