import { SluiceError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { Lease, QueueEntry } from '../core/queue-types.js';
import { Queue } from '../core/queue.js';
import { serial } from '../core/serial.js';
import type { Store } from '../core/store.js';
import { TypedEventTarget } from '../core/typed-events.js';
import { platformConnectivity } from './connectivity.js';
import { Coordination, type Relayed } from './coordination.js';
import { DeadLetters, type DeadRecord } from './dead-letters.js';
import { DeliveryLoop } from './delivery-loop.js';
import type { DeliveryRun, ToDead } from './delivery.js';
import { Dispatcher } from './dispatcher.js';
import type { DeadDetail, FlushOptions, FlushResult, OutboxEventMap, PendingTask, SentDetail } from './events.js';
import { makeRoom } from './limits.js';
import { resolveOutboxOptions, type OutboxOptions, type ResolvedOutboxOptions } from './options.js';
import { onPageHide } from './page-hide.js';
import { PendingIndex, type Pending } from './pending.js';
import { Reachability } from './reachability.js';
import { buildRequest } from './request.js';
import { reconcile } from './reconcile.js';
import { isNetworkError } from './send.js';
import { normaliseTask, publicTask, taskBytes, taskFromRequest, type HttpTask, type StoredTask } from './task.js';

const newRun = (once: boolean): DeliveryRun => ({ sent: 0, retried: 0, dead: 0, parked: once ? new Set() : undefined });

/**
 * HTTP tasks stored first and delivered with retry. A task leaves only as sent (acked after its response) or dead
 * (moved to `dead` with its reason); retry bookkeeping lives in the queue (attempts, delays), so it survives
 * restarts; a process that dies mid-request sends the task again with the same Idempotency-Key.
 *
 * The pieces: `PendingIndex` (what may go next, without scanning), `Dispatcher` (take, send, settle),
 * `verdictFor` (the policy), `DeliveryLoop` (background delivery), `Reachability` (online/offline and probes),
 * `Coordination` (tabs). This class checks arguments, stores tasks, and wires them.
 */
export class Outbox extends TypedEventTarget<OutboxEventMap> {
  /** The store used when `OutboxOptions.store` is absent. Set by the platform entries. */
  protected static defaultStore: (() => Store) | undefined;

  readonly name: string;
  readonly dead: DeadLetters;
  readonly #options: ResolvedOutboxOptions;
  readonly #queue: Queue<StoredTask>;
  readonly #deadQueue: Queue<DeadRecord>;
  readonly #index: PendingIndex;
  readonly #coordination: Coordination;
  readonly #reachability: Reachability;
  readonly #dispatcher: Dispatcher;
  readonly #loop: DeliveryLoop;
  readonly #serial = serial();
  readonly #background = newRun(false);
  readonly #unpage: (() => void) | undefined;
  /** Tasks this handle enqueued and has not seen leave, for `unloadFlush` (which cannot read storage in time). */
  readonly #recent = new Map<string, StoredTask>();
  #closing: Promise<void> | undefined;
  #drained = true;
  /** Bumped before every enqueue: an emptiness read that started before one is stale. */
  #epoch = 0;
  #syncQueued = false;
  #changeQueued = false;

  /** Opens (creating when absent) the outbox `options.name` and its dead letters `<name>.dead`. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const o = resolveOutboxOptions(options);
    const store = o.store ?? this.defaultStore?.();
    // A lease outlives the request's timeout, so a live handle's task is never taken by another meanwhile.
    const common = { clock: o.clock, durability: o.durability, leaseMs: o.timeoutMs + 60_000, ...(store && { store }) };
    const queue = await Queue.open<StoredTask>({ name: o.name, ...common });
    let deadQueue: Queue<DeadRecord>;
    try {
      deadQueue = await Queue.open<DeadRecord>({ name: `${o.name}.dead`, ...common });
    } catch (error) {
      await queue.close();
      throw error;
    }
    const outbox = new this(o, queue, deadQueue);
    try {
      await outbox.#serial(() => outbox.#load());
    } catch (error) {
      await outbox.close();
      throw error;
    }
    return outbox;
  }

  /** Use `Outbox.open`. */
  protected constructor(options: ResolvedOutboxOptions, queue: Queue<StoredTask>, deadQueue: Queue<DeadRecord>) {
    super();
    this.name = options.name;
    this.#options = options;
    this.#queue = queue;
    this.#deadQueue = deadQueue;
    this.#index = new PendingIndex(options.ordering);
    this.dead = new DeadLetters(deadQueue, (records) => this.#requeue(records));
    this.#coordination = new Coordination(options.name, {
      broadcast: true,
      onMessage: (messages) => this.#relayed(messages),
      // Granted while stopped: let the next handle have it.
      onGranted: () => (this.#loop.running ? this.#loop.kick() : this.#coordination.yieldDelivery()),
    });
    this.#reachability = new Reachability({
      clock: options.clock,
      policy: options.retry,
      connectivity: options.connectivity ?? platformConnectivity(),
      changed: (online) => {
        // Offline: what was taken ahead goes back, so that only a probe leaves.
        if (!online) this.#unbuffer();
        this.dispatchEvent(new Event(online ? 'online' : 'offline'));
      },
      wake: () => this.#loop.kick(),
    });
    this.#dispatcher = new Dispatcher(
      {
        options,
        queue,
        index: this.#index,
        reachability: this.#reachability,
        coordination: this.#coordination,
        transport: () => this.#transport(),
        emit: (type, detail) => this.dispatchEvent(detail === undefined ? new Event(type) : new CustomEvent(type, { detail })),
        toDead: (list, lease, run) => this.#toDead(list, lease, run),
        running: () => this.#loop.running,
        delivered: () => this.#networkBack(false),
      },
      () => this.#loop.kick(),
    );
    this.#loop = new DeliveryLoop({
      clock: options.clock,
      fill: () => this.#fill(this.#background),
      settling: () => this.#dispatcher.settling,
      idle: () => this.#idle(),
      error: (error) => this.dispatchEvent(new CustomEvent('error', { detail: { error } })),
    });
    queue.addEventListener('change', () => this.#sync());
    this.#unpage = options.unloadFlush ? onPageHide(() => this.#unloadFlush(), options.page) : undefined;
  }

  /** Whether the outbox believes the network is there (a `setOnline` override wins). */
  get online(): boolean {
    return this.#reachability.online;
  }

  /** Overrides what sends and platform events say, until called again (Node has no online events). */
  setOnline(online: boolean): void {
    this.#reachability.set(online);
    if (!online) this.#unbuffer();
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
    const now = this.#options.clock.now();
    const plain = await Promise.all(tasks.map((t) => (isRequest(t) ? taskFromRequest(t) : t)));
    const stored = plain.map((t) => normaliseTask(t, this.#options.baseUrl, now));
    if (stored.length === 0) return [];
    this.#epoch++;
    await this.#serial(async () => {
      await this.#catchUp();
      // Coalescing: within the batch, the last task of a key wins too.
      const keep = stored.filter((t, i) => t.key === undefined || !stored.slice(i + 1).some((u) => u.key === t.key));
      const doomed: ToDead[] = stored.filter((t) => !keep.includes(t)).map((value) => ({ entry: { id: '', value, attempts: 0 }, reason: 'superseded' }));
      const keys = new Set(keep.flatMap((t) => (t.key === undefined ? [] : [t.key])));
      const replaced = await this.#entries([...keys].flatMap((key) => this.#index.withKey(key)));
      doomed.push(...replaced.map((entry) => ({ entry, reason: 'superseded' as const })));
      doomed.push(...(await this.#evictions(keep, replaced)).map((entry) => ({ entry, reason: 'evicted' as const })));
      const ids = await this.#queue.pushMany(keep);
      keep.forEach((task, i) => this.#index.add(Number(ids[i]), task, 0));
      await this.#toDead(doomed, undefined, this.#background);
    });
    this.#drained = false;
    const ids = stored.map((t) => t.id);
    if (this.#unpage) for (const t of stored) this.#recent.set(t.id, t);
    this.dispatchEvent(new CustomEvent('enqueue', { detail: { ids } }));
    this.#changed();
    this.#loop.kick();
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
      this.#reachability.saw(true);
      if (response.ok) this.#networkBack(false);
      return response;
    } catch (error) {
      if (!isNetworkError(error)) throw error;
      this.#reachability.saw(false);
      const id = await this.enqueue(task);
      return new Response(null, { status: 202, statusText: 'Accepted', headers: { 'Sluice-Queued': id } });
    }
  }

  /** One delivery run now: every task that may go is tried once. Resolves with what happened and what is left. */
  async flush(options: FlushOptions = {}): Promise<FlushResult> {
    this.#checkOpen();
    if (options.reachable) this.#networkBack(true);
    const run = newRun(true);
    const dispatcher = this.#dispatcher;
    try {
      for (;;) {
        options.signal?.throwIfAborted();
        const seen = dispatcher.changes;
        const started = await this.#fill(run);
        if (started === 0 && dispatcher.settling === 0) break;
        // Compared with the count before the fill, so a change during it is not waited for again (a lost wake-up).
        if ((started === 0 || dispatcher.active >= this.#options.concurrency) && seen === dispatcher.changes) await dispatcher.changed();
      }
    } finally {
      this.#index.unpark(run.parked!);
    }
    if (!this.#loop.running) {
      await this.#serial(() => dispatcher.unbuffer());
      this.#coordination.yieldDelivery();
    }
    const epoch = this.#epoch;
    const remaining = await this.#queue.size();
    if (remaining === 0) this.#drain(epoch);
    return { sent: run.sent, retried: run.retried, dead: run.dead, remaining };
  }

  /** Delivers in the background from now on: at once, when tasks arrive, when delays end, when the network returns. */
  start(): void {
    this.#checkOpen();
    this.#loop.start();
  }

  /** Stops background delivery; resolves when the requests in flight have ended. */
  async stop(): Promise<void> {
    this.#loop.stop();
    await this.#serial(() => this.#dispatcher.unbuffer());
    await this.#dispatcher.settled();
    await this.#serial(() => this.#dispatcher.unbuffer());
    this.#coordination.yieldDelivery();
  }

  /** Tasks not yet sent or dead (in flight included). */
  size(): Promise<number> {
    return this.#queue.size();
  }

  /** Pending tasks in queue order (at most `limit`, of one `group`): for a UI or an operator. Never headers or bodies. */
  async list(options: { readonly group?: string; readonly limit?: number } = {}): Promise<PendingTask[]> {
    this.#checkOpen();
    const { group, limit = Infinity } = options;
    await this.#serial(() => this.#catchUp());
    const chosen: Pending[] = [];
    for (const pending of this.#index.values()) {
      if (chosen.length >= limit) break;
      if (group === undefined || pending.group === group) chosen.push(pending);
    }
    const entries = new Map((await this.#queue.list({ ids: chosen.map((p) => String(p.seq)) })).map((e) => [Number(e.id), e]));
    return chosen.flatMap((p) => {
      const entry = entries.get(p.seq);
      return entry ? [pendingView(p, entry)] : [];
    });
  }

  /** Withdraws pending tasks (by task id) that are not in flight; resolves how many were removed. */
  async remove(ids: readonly string[]): Promise<number> {
    this.#checkOpen();
    if (!Array.isArray(ids)) throw new SluiceError('ERR_INVALID_OPTION', 'Expected `ids` to be an array of task ids.');
    const removed = await this.#serial(async () => {
      const gone = ids.flatMap((id) => {
        const pending = this.#index.byId(id);
        return pending && pending.state !== 'busy' ? [pending] : [];
      });
      if (gone.length === 0) return 0;
      const count = await this.#queue.remove(gone.map((p) => String(p.seq)));
      for (const pending of gone) this.#index.remove(pending);
      return count;
    });
    if (removed > 0) this.#changed();
    return removed;
  }

  /** Stops, waits for requests in flight, and closes. Later calls reject 'ERR_CLOSED'. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.stop();
      await this.#serial(() => undefined);
      this.#reachability.close();
      this.#unpage?.();
      this.#coordination.close();
      await Promise.allSettled([this.#queue.close(), this.#deadQueue.close()]);
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

  // ---- internals ----

  /** Reads the queue into the index, settling what a crash left half done first. */
  async #load(): Promise<void> {
    const entries = await this.#queue.list();
    const removed = await reconcile(entries, this.#queue, this.#deadQueue);
    for (const e of entries) if (!removed.has(e.id)) this.#add(e);
    // Tasks left from an earlier session: 'drained' is owed once they are delivered.
    if (this.#index.size > 0) this.#drained = false;
  }

  #add(e: QueueEntry<StoredTask>): void {
    const held = e.state !== 'ready';
    this.#index.add(Number(e.id), e.value, e.attempts, held ? e.availableAt : 0, e.state === 'leased' ? 'lease' : 'server');
  }

  /** Another handle committed: take in what it pushed (coalesced; what it removed is found out when taken). */
  #sync(): void {
    if (this.#syncQueued || this.#closing) return;
    this.#syncQueued = true;
    void this.#serial(() => this.#catchUp())
      .then(() => this.#loop.kick())
      .catch((error: unknown) => this.dispatchEvent(new CustomEvent('error', { detail: { error } })));
  }

  /** Adds the entries pushed after the last one the index knows (call it alone). */
  async #catchUp(): Promise<void> {
    this.#syncQueued = false;
    const last = this.#index.last;
    for (const e of await this.#queue.list(last < 0 ? {} : { after: String(last) })) this.#add(e);
  }

  /** The stored entries of `pending` tasks that may be moved to dead (not in flight here or elsewhere). */
  async #entries(pending: readonly Pending[]): Promise<QueueEntry<StoredTask>[]> {
    const free = pending.filter((p) => p.state !== 'busy');
    if (free.length === 0) return [];
    const found = await this.#queue.list({ ids: free.map((p) => String(p.seq)) });
    const ids = new Set(found.map((e) => e.id));
    for (const p of free) if (!ids.has(String(p.seq))) this.#index.remove(p);
    return found.filter((e) => {
      if (e.state !== 'leased') return true;
      this.#index.wait(this.#index.get(Number(e.id))!, e.availableAt, 'lease');
      return false;
    });
  }

  /** The entries to evict so that `incoming` fits `limits` ('drop-oldest'), besides those `leaving` anyway. */
  async #evictions(incoming: readonly StoredTask[], leaving: readonly QueueEntry<StoredTask>[]): Promise<QueueEntry<StoredTask>[]> {
    const away = new Set(leaving.map((e) => this.#index.get(Number(e.id))!));
    // Chosen on the index, then confirmed against the queue: one leased elsewhere meanwhile is passed over.
    for (;;) {
      const chosen = makeRoom(this.#options.limits, this.#index, incoming, away).filter((p) => p.state !== 'waiting' || p.cause !== 'lease');
      const entries = await this.#entries(chosen);
      if (entries.length === chosen.length) return entries;
    }
  }

  #fill(run: DeliveryRun): Promise<number> {
    return this.#serial(() => (this.#closing && !this.#loop.running && run === this.#background ? 0 : this.#dispatcher.fill(run)));
  }

  #unbuffer(): void {
    void this.#serial(() => this.#dispatcher.unbuffer()).catch((error: unknown) => this.dispatchEvent(new CustomEvent('error', { detail: { error } })));
  }

  /**
   * The network is there (a success showed it, or the platform or a page says so): tasks that wait only because the
   * network failed them are tried at once; waits a server asked for (a status, Retry-After) are kept. `told`: also
   * end the probe backoff, since it was not a send that showed it.
   */
  #networkBack(told: boolean): void {
    if (told) this.#reachability.saw(true);
    const waiting = this.#index.waitingForNetwork();
    for (const pending of waiting) this.#index.ready(pending);
    if (waiting.length > 0) this.#loop.kick();
  }

  /** Nothing runs: says 'drained' when nothing is left, else when something may go next. */
  async #idle(): Promise<number | undefined> {
    const epoch = this.#epoch;
    if (this.#index.size === 0) {
      if ((await this.#queue.size()) === 0) this.#drain(epoch);
      return undefined;
    }
    const wake = this.#index.nextWake();
    const probeAt = this.#reachability.probeAt;
    return this.#reachability.reachable ? wake : Math.max(wake ?? probeAt, probeAt);
  }

  /**
   * Moves tasks to dead: into dead letters first, then out of the outbox. A crash between leaves a task in both,
   * which `reconcile` settles on the next open; the other order could lose it.
   */
  async #toDead(list: readonly ToDead[], lease: Lease<StoredTask> | undefined, run: DeliveryRun): Promise<void> {
    if (list.length === 0) return;
    const at = this.#options.clock.now();
    const records = list.map(({ entry, reason, status, error }): DeadRecord => ({
      task: entry.value,
      reason,
      attempts: entry.attempts,
      at,
      ...(status !== undefined && { status }),
      ...(error !== undefined && { error }),
    }));
    await this.#deadQueue.pushMany(records);
    const ids = list.map((d) => d.entry.id).filter((id) => id !== '');
    if (lease) await lease.ack(ids);
    else if (ids.length > 0) await this.#queue.remove(ids);
    for (const id of ids) {
      const pending = this.#index.get(Number(id));
      if (pending) this.#index.remove(pending);
    }
    run.dead += list.length;
    for (const { task, reason, status, attempts, error } of records) {
      const detail: DeadDetail = { task: publicTask(task), reason, attempts, ...(status !== undefined && { status }), ...(error !== undefined && { error }) };
      this.dispatchEvent(new CustomEvent('dead', { detail }));
      this.#coordination.post({ type: 'dead', detail });
    }
    this.#changed();
  }

  /** Puts dead tasks back with their ids, fresh age and attempts, stamped after their move to dead (see `reconcile`). */
  async #requeue(records: readonly DeadRecord[]): Promise<void> {
    this.#checkOpen();
    const now = this.#options.clock.now();
    this.#epoch++;
    await this.#serial(async () => {
      const tasks = records.map((r) => ({ ...r.task, createdAt: Math.max(now, r.at + 1) }));
      const ids = await this.#queue.pushMany(tasks);
      tasks.forEach((task, i) => this.#index.add(Number(ids[i]), task, 0));
    });
    this.#drained = false;
    this.#changed();
    this.#loop.kick();
  }

  /** Says 'drained' once per emptying, unless an enqueue started since the emptiness was read (`epoch`). */
  #drain(epoch: number): void {
    if (this.#drained || epoch !== this.#epoch) return;
    this.#drained = true;
    this.dispatchEvent(new Event('drained'));
  }

  /** 'change', once per tick however many tasks changed. */
  #changed(): void {
    if (this.#changeQueued) return;
    this.#changeQueued = true;
    queueMicrotask(() => {
      this.#changeQueued = false;
      this.dispatchEvent(new Event('change'));
    });
  }

  /**
   * The page is going away: send what fits in keepalive requests (64 KB in all, the browsers' budget), without
   * waiting, since nothing can be awaited now. The tasks stay stored: if a request did not make it, the next session
   * sends the task again with the same Idempotency-Key. Only without ordering, and only this handle's own tasks
   * not in flight: with ordering, an older task of the same group may still be stored and must go first.
   */
  #unloadFlush(): void {
    if (this.#options.ordering !== 'none' || !this.online || !this.#coordination.holdsOrAlone()) return;
    let budget = 65_536;
    for (const task of this.#recent.values()) {
      if (this.#index.byId(task.id)?.state === 'busy' || (task.notBefore ?? 0) > this.#options.clock.now()) continue;
      const size = taskBytes(task);
      if (size > budget) break;
      budget -= size;
      const { url, init } = buildRequest(task, {}, undefined);
      void this.#transport()(url, { ...init, keepalive: true }).catch(() => undefined);
    }
  }

  #relayed(messages: readonly Relayed[]): void {
    for (const message of messages) {
      if (message?.type !== 'sent' && message?.type !== 'dead') continue;
      const detail = message.detail as SentDetail;
      const pending = this.#index.byId(detail.task?.id);
      if (pending && pending.state !== 'busy') this.#index.remove(pending);
      this.dispatchEvent(new CustomEvent(message.type, { detail: { ...message.detail, remote: true } }));
    }
  }

  #transport(): typeof fetch {
    return this.#options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  #checkOpen(): void {
    if (this.#closing) throw new SluiceError('ERR_CLOSED', `Outbox "${this.name}" is closed; open it again to use it.`);
  }
}

function isRequest(value: unknown): value is Request {
  return typeof Request === 'function' && value instanceof Request;
}

/** A pending task as `Outbox.list` shows it. */
function pendingView(p: Pending, entry: QueueEntry<StoredTask>): PendingTask {
  const { method, url } = entry.value;
  const state = p.state === 'busy' || p.cause === 'lease' ? 'sending' : p.cause === 'schedule' ? 'scheduled' : p.state === 'ready' ? 'ready' : 'retrying';
  return {
    id: p.id,
    method,
    url,
    ...(p.group !== undefined && { group: p.group }),
    attempts: entry.attempts,
    state,
    ...(state === 'retrying' || state === 'scheduled' ? { nextAttemptAt: p.until } : {}),
    ...(p.last?.status !== undefined && { lastStatus: p.last.status }),
    ...(p.last?.error !== undefined && { lastError: p.last.error }),
  };
}
