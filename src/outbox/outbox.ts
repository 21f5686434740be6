import { SluiceError } from '../core/errors.js';
import type { Queue } from '../core/queue.js';
import { taskIds } from '../core/ids.js';
import { serial } from '../core/serial.js';
import type { Store } from '../core/store.js';
import { TypedEventTarget } from '../core/typed-events.js';
import { check, isBoolean, limit as count, openedWith, optional, optionsObject, text, withMethods } from '../core/validate.js';
import { DeadLetterQueue, type DeadLetters, type DeadRecord } from './dead-letters.js';
import { DeadMoves } from './dead-moves.js';
import { Deliverer } from './deliverer.js';
import { STATES, type ErrorDetail, type FlushOptions, type FlushResult, type ListPendingOptions, type OutboxEventMap, type PendingTask } from './events.js';
import { resolveOutboxOptions, type OutboxOptions, type ResolvedOutboxOptions, type Transport } from './options.js';
import { UnloadSender } from './page-hide.js';
import { laneOf, PendingIndex } from './pending.js';
import { PendingStore } from './pending-store.js';
import { liveFetch, REQUEST_INIT } from './live-fetch.js';
import { LiveTurns } from './live-turns.js';
import { builtOn, openQueues } from './open-queues.js';
import { Notices } from './notices.js';
import { BodyStore } from './body-store.js';
import { OrphanBodies } from './orphan-bodies.js';
import { Removal } from './removal.js';
import { UnderWay } from './under-way.js';
import { bodiesOf, manyTasks, oneTask, prepareAll, storedNothing } from './enqueue.js';
import { DrainWaits, type WhenDrainedOptions } from './drain-wait.js';
import type { HttpTask, StoredTask } from './task.js';

/**
 * HTTP tasks stored first and delivered with retry. A task leaves only as sent (acked after its response) or dead
 * (moved to `dead` with its reason); retry bookkeeping lives in the queue (attempts, delays), so it survives
 * restarts; a process that dies mid-request sends the task again with the same Idempotency-Key.
 */
// The pieces: `PendingIndex` (what may go next, without scanning) kept by `PendingStore` (loading, coalescing, limits),
// and `Deliverer` (the dispatcher, the retry policy `verdictFor`, the background loop, reachability and tabs). This
// class checks arguments, says what happened in events, and wires them.
export class Outbox extends TypedEventTarget<OutboxEventMap> {
  /** The store used when `OutboxOptions.store` is absent. Set by the platform entries. */
  protected static defaultStore: (() => Store) | undefined;
  /** Whether fetch streams request bodies here (Node does; browsers only over HTTP/2). Set by the platform entries. */
  protected static streamBodies = false;

  readonly name: string;
  readonly dead: DeadLetters;
  readonly #options: ResolvedOutboxOptions;
  readonly #queue: Queue<StoredTask>;
  readonly #deadQueue: Queue<DeadRecord>;
  readonly #index: PendingIndex;
  readonly #pending: PendingStore;
  readonly #bodies: BodyStore;
  readonly #orphans: OrphanBodies;
  readonly #deliverer: Deliverer;
  readonly #moves: DeadMoves;
  readonly #removal: Removal;
  readonly #serial = serial();
  readonly #liveTurns = new LiveTurns();
  readonly #unload: UnloadSender | undefined;
  // Every outbox event is a CustomEvent (API.md); these have nothing to tell, so their `detail` is null.
  readonly #notices = new Notices((type) => this.dispatchEvent(new CustomEvent(type)));
  /** Tells listeners; an 'error' nobody listens for goes to the console, as an unhandled rejection would. */
  readonly #emit = (type: keyof OutboxEventMap, detail?: unknown, shown?: (detail: never) => unknown): unknown =>
    type === 'change' ? this.#notices.changed() : this.dispatchHeard(type, () => new CustomEvent(type, { detail: shown ? shown(detail as never) : detail })) || type !== 'error' || console.error('sluice: outbox error, no listener:', (detail as ErrorDetail).error);
  /** Says in an 'error' event what failed where no call of the user's can reject with it. */
  readonly #tellError = (error: unknown): unknown => this.#emit('error', { error });
  readonly #transport = (): Transport => this.#options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  #closing: Promise<void> | undefined;
  readonly #drains = new DrainWaits(this, () => this.#queue.size(), () => this.#options.clock);
  readonly #closedError = () => new SluiceError('ERR_CLOSED', `Outbox "${this.name}" is closed; open it again to use it.`);
  /** Enqueues and live requests (`fetch`) under way: a close lets them end first, the queues still open (see `close`). */
  readonly #enqueuing = new UnderWay();
  #syncQueued = false;

  /** Opens (creating when absent) the outbox `options.name` and its dead letters `<name>.dead`. Detached, `this` is undefined: `Outbox`'s. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const o = resolveOutboxOptions(options, (this ?? Outbox).defaultStore);
    const queues = await openQueues(o, o.store);
    const { queue, deadQueue, damage } = queues;
    const outbox = await builtOn(queues, () => new (this ?? Outbox)(o, queue, deadQueue));
    try {
      await outbox.#serial(async () => {
        await outbox.#pending.load(deadQueue);
        await outbox.#orphans.sweep();
      });
      // Tasks left from an earlier session: 'drained' is owed once they are delivered.
      if (outbox.#index.size > 0) outbox.#notices.owed();
    } catch (error) {
      await outbox.close();
      throw error;
    }
    damage.to(outbox, (entries) => entries.flatMap((entry) => outbox.#index.get(Number(entry))?.id ?? []));
    return outbox;
  }

  /** Use `Outbox.open`. */
  protected constructor(options: ResolvedOutboxOptions, queue: Queue<StoredTask>, deadQueue: Queue<DeadRecord>) {
    super();
    this.#options = openedWith(options, 'Outbox');
    this.name = options.name;
    this.#queue = queue;
    this.#deadQueue = deadQueue;
    this.#index = new PendingIndex(options.ordering, queue.partitions);
    const stream = (this.constructor as typeof Outbox).streamBodies;
    this.#bodies = new BodyStore(queue.blobs, { clock: options.clock, maxBodyBytes: options.maxBodyBytes, stream });
    this.#pending = new PendingStore(queue, this.#index, options, (pending) => this.#deliverer.recall(pending), () => {
      // Another handle's tasks (a page's, in a service worker): 'drained' is owed once they are gone; an emptiness read is stale.
      this.#notices.coming();
      this.#notices.owed();
    });
    const dead = new DeadLetterQueue(deadQueue, (records) => this.#moves.requeue(records), (keys) => this.#orphans.forget(keys), (records) => this.#moves.finishBefore(records), () => this.#checkOpen());
    this.#orphans = new OrphanBodies(this.#bodies, this.#serial, this.#pending, (this.dead = dead));
    this.#deliverer = new Deliverer({
      options, queue, index: this.#index, bodies: this.#bodies, serial: this.#serial, transport: () => this.#transport(),
      emit: this.#emit, moves: () => this.#moves, removal: () => this.#removal,
      empty: async () => {
        const epoch = this.#notices.epoch;
        if ((await this.#queue.size()) === 0) this.#notices.drain(epoch, this.#index.gone.owed);
      },
      closing: () => this.#closing !== undefined,
      lookUnseen: () => (this.#pending.unseen ? this.#serial(() => this.#pending.catchUp()) : undefined),
    });
    const shared = { options, queue, index: this.#index, pending: this.#pending, serial: this.#serial, notices: this.#notices };
    this.#moves = new DeadMoves({ ...shared, deadQueue, target: this, tellError: this.#tellError, deliverer: this.#deliverer, checkOpen: () => this.#checkOpen() });
    const closing = () => this.#closing !== undefined;
    this.#removal = new Removal({ ...shared, deliverer: this.#deliverer, orphans: this.#orphans, closing, tellError: this.#tellError });
    queue.addEventListener('change', () => this.#sync());
    this.#unload = UnloadSender.for({
      options, index: this.#index, transport: () => this.#transport(),
      delivers: (origin) => this.#deliverer.sendsOnHide(origin), kick: () => this.#deliverer.kick(),
    });
  }

  /** Whether the outbox believes the network is there (a `setOnline` override wins). */
  get online(): boolean {
    return this.#deliverer.online;
  }

  /** Overrides what sends and platform events say, until called again (Node has no online events). */
  setOnline(online: boolean): void {
    check({ online }, { online: isBoolean });
    this.#deliverer.setOnline(online);
  }

  /** Stores `task` (an `HttpTask` or a `Request`) for delivery; resolves its id once it is durable. */
  async enqueue(task: HttpTask | Request): Promise<string> {
    this.#checkOpen();
    oneTask(task, arguments[1]);
    return (await this.enqueueMany([task]))[0]!;
  }

  /** Stores `tasks` all or nothing (with `partitions`, see there); resolves their ids once they are durable. */
  enqueueMany(tasks: readonly (HttpTask | Request)[]): Promise<string[]> {
    return this.#enqueuing.track(this.#enqueueMany(tasks, false, arguments[1]));
  }

  async #enqueueMany(tasks: readonly (HttpTask | Request)[], closing = false, extra?: unknown): Promise<string[]> {
    if (!closing) this.#checkOpen();
    manyTasks(tasks, extra);
    const stored = await prepareAll(tasks, { baseUrl: this.#options.baseUrl, keyHeader: this.#options.keyHeader, now: this.#options.clock.now(), bodies: this.#bodies });
    if (stored.length === 0) return [];
    this.#notices.coming();
    const entries = await this.#serial(async () => {
      const admitted = await this.#pending.admit(stored).catch(async (error: unknown) => {
        if (storedNothing(error)) await this.#bodies.delete(bodiesOf(stored)).catch(() => undefined);
        // What the failed push may have stored all the same is delivered (see `PendingStore.push`).
        else this.#deliverer.kick();
        throw error;
      });
      // The tasks are stored: a rejection would read as "not stored", and an enqueue again would send them twice.
      // What they replace or evict stays pending (sent after all, or evicted again), and the failure is told.
      await this.#moves.toDead(admitted.doomed, undefined, this.#deliverer.aside).catch(this.#tellError);
      return admitted.stored;
    });
    this.#notices.owed();
    const ids = stored.map((t) => t.id);
    this.#unload?.track(entries);
    this.dispatchEvent(new CustomEvent('enqueue', { detail: { ids } }));
    this.#notices.changed();
    this.#deliverer.kick();
    return ids;
  }

  /**
   * For service-worker fetch handlers: tries the network now and returns the response (any status); on a network error
   * or no response within `timeoutMs`, stores the request and resolves a 202 whose 'Sluice-Queued' header holds its id.
   * A group's order holds between live and stored requests (the group: `init.group`, else a 'Sluice-Group' header).
   * Refused ('ERR_INVALID_OPTION') with `idempotencyHeader: false`: a page's own tasks sent through it look new.
   */
  async fetch(input: Request | string, init?: RequestInit & { readonly group?: string | undefined }): Promise<Response> {
    this.#checkOpen();
    const group = init?.group;
    check({ init, group }, { init: REQUEST_INIT, group: optional(text) });
    const o = this.#options;
    return this.#enqueuing.track(liveFetch(input, init ?? {}, {
      transport: this.#transport(), clock: o.clock, timeoutMs: o.timeoutMs, keyHeader: o.keyHeader,
      group,
      placeOf: (g, id) => this.#serial(() => this.#pending.placeOf(laneOf({ group: g }, o.ordering), id)),
      sight: this.#deliverer,
      enqueue: (task) => this.#enqueueMany([task], true).then(([id]) => id!),
      turn: (g) => this.#liveTurns.take(laneOf({ group: g }, o.ordering)),
    }));
  }

  /** One delivery run now: every task that may go is tried once. Resolves with what delivery did while it ran and what is left. */
  async flush(options?: FlushOptions): Promise<FlushResult> {
    this.#checkOpen();
    const { signal, reachable } = optionsObject(options, 'options', ['signal', 'reachable']);
    check({ signal, reachable }, { signal: optional(withMethods('throwIfAborted')), reachable: optional(isBoolean) });
    const run = await this.#deliverer.flush(signal, async () => {
      // What other handles stored before this call is this run's too, whether or not their commit's notice came yet.
      await this.#serial(() => this.#pending.catchUp());
      if (reachable) this.#deliverer.networkBack(true);
    });
    const epoch = this.#notices.epoch;
    // A close as the run ended (a SIGTERM handler) closed the queue: what is left is then what this handle knows pending.
    const remaining = await this.#queue.size().catch((error: unknown) => (this.#closing && (error as { code?: unknown } | null)?.code === 'ERR_CLOSED' ? this.#index.size : Promise.reject(error)));
    if (remaining === 0 && !this.#closing) this.#notices.drain(epoch, this.#index.size + this.#index.gone.owed);
    return { sent: run.sent, retried: run.retried, dead: run.dead, handedOver: run.handedOver, remaining };
  }

  /**
   * Delivers in the background from now on: at once, when tasks arrive, when delays end, when the network returns.
   * In Node, tasks waiting for a retry keep the process alive until they go, or until `stop()` or `close()`.
   */
  start(): void {
    this.#checkOpen();
    this.#deliverer.start();
  }

  /** Stops background delivery; resolves when the requests in flight have ended. */
  stop(): Promise<void> {
    return this.#deliverer.stop();
  }

  /** Resolves once no task is pending (at once when none is), whichever handle delivers; rejects 'ERR_CLOSED' on close. */
  async whenDrained(options?: WhenDrainedOptions): Promise<void> {
    this.#checkOpen();
    return this.#drains.wait(options);
  }

  /** Tasks not yet sent or dead (in flight included). */
  async size(): Promise<number> {
    this.#checkOpen();
    return this.#queue.size();
  }

  /**
   * Pending tasks in queue order (at most `limit`, of one `group`, in one `state` or any of several): for a UI or an
   * operator. Never headers or bodies.
   */
  async list(options: ListPendingOptions = {}): Promise<PendingTask[]> {
    this.#checkOpen();
    const { group, limit = Infinity, state } = optionsObject(options, 'options', ['group', 'limit', 'state']);
    check({ group, limit, state }, { group: optional(text), limit: optional(count(0)), state: optional(STATES) });
    return this.#serial(() => this.#pending.list(group, limit, state === undefined ? undefined : [state].flat(), this.#options.clock.now()));
  }

  /** Withdraws pending tasks (by task id) that are not in flight; resolves how many were removed. */
  async remove(ids: readonly string[]): Promise<number> {
    this.#checkOpen();
    return this.#removal.remove(taskIds(ids));
  }

  /** Stops, waits for requests in flight, and closes (leases the store refused to release: an 'error'). Later calls reject 'ERR_CLOSED'. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#drains.close(this.#closedError());
      this.#bodies.close();
      // Enqueues and live requests under way end while the queues are open: a body still being read gives up
      // (ERR_CLOSED), deleting what it wrote; a task whose body is in is stored (as a queue's close waits for its pushes).
      await this.#enqueuing.settled();
      await this.stop();
      await this.#serial(() => undefined);
      this.#unload?.close();
      this.#deliverer.close();
      for (const r of await Promise.allSettled([this.#queue.close(), this.#deadQueue.close()])) if (r.status === 'rejected') this.#tellError(r.reason);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- internals ----

  /** Another handle committed: take in what it pushed (coalesced; what it removed is found out when taken); 'change'. */
  #sync(): void {
    if (this.#syncQueued || this.#closing) return;
    this.#syncQueued = true;
    void this.#serial(() => {
      this.#syncQueued = false;
      return this.#pending.catchUp();
    })
      .then(() => (this.#notices.changed(), this.#deliverer.kick()))
      .catch((error: unknown) => (this.#tellError(error), this.#deliverer.failed()));
  }

  #checkOpen(): void {
    if (this.#closing) throw this.#closedError();
  }
}
