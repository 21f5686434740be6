import { CommitView } from './commit-view.js';
import { encodeItems } from './encode.js';
import { SluiceError } from './errors.js';
import type { CorruptDetail, QueueEventMap, RecoverDetail } from './events.js';
import { GroupCommit } from './group-commit.js';
import { parseIds } from './ids.js';
import { leases } from './iteration.js';
import { Leasing } from './leasing.js';
import { ITERATE_RULES, LIST_RULES, resolveOptions, TAKE_RULES, type QueueOptions, type ResolvedOptions } from './options.js';
import type { IterateOptions, Lease, ListOptions, QueueEntry, QueueStats, TakeOptions } from './queue-types.js';
import { lost, repairPlan } from './recovery.js';
import type { StoredItem } from './segments.js';
import { serial } from './serial.js';
import type { QueueStorage, Store } from './store.js';
import { TypedEventTarget } from './typed-events.js';
import { check, integer, optionsObject } from './validate.js';
import { itemAt, walk } from './walk.js';

/**
 * A durable FIFO of items. Pushes are stored before they resolve; `take` leases items to this handle until they
 * are acked (removed for good) or released; an item is removed only by an ack, so delivery is at-least-once.
 * Several handles (tabs, processes) may open one queue: every change is a compare-and-write on the store, made
 * again on a fresh view when another handle got there first.
 *
 * The pieces: `CommitView` (the state and how it changes), `GroupCommit` (pushes), `Leasing` (take, ack, release,
 * expiry), `walk` (items in order), `repairPlan` (recovery). This class checks arguments and wires them.
 */
export class Queue<T> extends TypedEventTarget<QueueEventMap> {
  /** The store used when `QueueOptions.store` is absent. Set by the platform entries (`sluice` in Node, browsers). */
  protected static defaultStore: (() => Store) | undefined;

  readonly name: string;
  /** What recovery found and repaired, also sent as 'recover' events. */
  readonly recovered: RecoverDetail[] = [];
  readonly #options: ResolvedOptions<T>;
  readonly #storage: QueueStorage;
  readonly #view: CommitView;
  readonly #pushes: GroupCommit;
  readonly #leasing: Leasing<T>;
  readonly #serial = serial();
  #closing: Promise<void> | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #unwatch: (() => void) | undefined;

  /** Opens (creating when absent) the queue `options.name` in `options.store`. */
  static async open<T>(options: QueueOptions<T>): Promise<Queue<T>> {
    const resolved = resolveOptions(options, this.defaultStore);
    const storage = await resolved.store.open(resolved.name);
    const queue = new this(resolved, storage);
    try {
      // Reading the storage finds what needs repair; the first commit makes it.
      await queue.#serial(async () => {
        await queue.#view.reload();
        await queue.#view.commit(() => ({ result: undefined }));
      });
    } catch (error) {
      queue.#unwatch?.();
      await storage.close();
      throw error;
    }
    return queue;
  }

  /** Use `Queue.open`. */
  protected constructor(options: ResolvedOptions<T>, storage: QueueStorage) {
    super();
    this.name = options.name;
    this.#options = options;
    this.#storage = storage;
    this.#view = new CommitView(storage, options, () =>
      repairPlan(this.#view, this.name, options.corruption, (detail) => this.#report(detail), (detail) => this.#later('corrupt', detail)),
    );
    this.#pushes = new GroupCommit(this.#view, options, this.#serial, (count) => {
      this.#wake();
      this.dispatchEvent(new CustomEvent('push', { detail: { count } }));
    });
    this.#leasing = new Leasing<T>({
      view: this.#view,
      storage,
      clock: options.clock,
      decode: (item) => this.#decode(item),
      run: (fn) => this.#run(fn),
      lost: (segment, from, to) => this.#lost(segment, from, to),
      wake: () => this.#wake(),
    });
    this.#unwatch = storage.watch?.(() => {
      this.#wake();
      this.dispatchEvent(new Event('change'));
    });
  }

  /** Stores `item`; resolves its entry id once it is durable (to the queue's `durability`). */
  async push(item: T): Promise<string> {
    return (await this.pushMany([item]))[0]!;
  }

  /** Stores `items` all or nothing, in one commit; resolves their entry ids once they are durable. */
  async pushMany(items: readonly T[]): Promise<string[]> {
    this.#checkOpen();
    check({ items }, { items: ['an array', Array.isArray] });
    if (items.length === 0) return [];
    const first = await this.#pushes.add(encodeItems(this.#options.codec, items, this.#options.maxItemBytes), items.length);
    return items.map((_, i) => String(first + i));
  }

  /** Leases up to `max` of the oldest available items to this handle; `undefined` when none is available. */
  take(max = 1, options?: TakeOptions<T>): Promise<Lease<T> | undefined> {
    return this.#run(async () => {
      const o = optionsObject(options);
      check({ ...o, max }, TAKE_RULES);
      o.signal?.throwIfAborted();
      return this.#view.commit(() => this.#leasing.take(max, o.leaseMs ?? this.#options.leaseMs, o));
    });
  }

  /** Takes the oldest available item and acks it at once: simple, but an item is lost if the caller then fails. */
  async shift(): Promise<T | undefined> {
    const lease = await this.take(1);
    if (!lease) return undefined;
    await lease.ack();
    return lease.entries[0]!.value;
  }

  /** The oldest available items, without leasing them. */
  peek(max = 1): Promise<T[]> {
    return this.#run(async () => {
      check({ max }, { max: integer(1, 2 ** 31) });
      return this.#read(async () => {
        const out: T[] = [];
        for await (const { item } of walk(this.#view, this.#expire(), true, this.#lostFn)) {
          out.push(this.#decode(item));
          if (out.length === max) break;
        }
        return out;
      });
    });
  }

  /** Unacked entries in queue order with their state (at most `limit`, after `after`, or only `ids`), for inspection and tools. */
  list(options?: ListOptions): Promise<QueueEntry<T>[]> {
    return this.#run(async () => {
      const o = optionsObject(options);
      check(o, LIST_RULES);
      const { limit = Infinity, after, ids } = o;
      const from = after === undefined ? 0 : parseIds([after])[0]! + 1;
      const wanted = ids && parseIds(ids);
      return this.#read(async () => {
        const out: QueueEntry<T>[] = [];
        const now = this.#expire();
        if (wanted) {
          for (const seq of wanted) {
            const item = await itemAt(this.#view, seq);
            if (item && out.length < limit) out.push(this.#leasing.entry(item, this.#view.state.holds.at(seq, now)));
          }
          return out;
        }
        if (limit === 0) return out;
        for await (const { item, held } of walk(this.#view, now, false, this.#lostFn, from)) {
          out.push(this.#leasing.entry(item, held));
          if (out.length >= limit) break;
        }
        return out;
      });
    });
  }

  /** Removes the items `ids` whatever their state (leased ones included); resolves how many were removed. */
  remove(ids: readonly string[]): Promise<number> {
    return this.#run(async () => {
      const seqs = parseIds(ids);
      return this.#view.commit(() => {
        const next = this.#view.next;
        const live = seqs.filter((s) => s < next && !this.#view.state.isAcked(s));
        return this.#leasing.acking(live, live.length);
      });
    });
  }

  /** Items pushed and not yet acked, leased ones included. */
  size(): Promise<number> {
    return this.#run(async () => {
      await this.#view.refresh();
      return this.#view.size;
    });
  }

  stats(): Promise<QueueStats> {
    return this.#run(async () => {
      await this.#view.refresh();
      return this.#view.stats(this.#options.clock.now());
    });
  }

  /** Removes every item, leased ones included (acking them later is a harmless no-op). */
  clear(): Promise<void> {
    return this.#run(() =>
      this.#view.commit(() => {
        const next = this.#view.next;
        const remove = this.#view.segments.list.map((s) => s.id);
        return { ops: [['a', [this.#view.state.head, next]]], whole: true, batch: { remove }, result: undefined };
      }),
    );
  }

  /** Waits for pending pushes, releases this handle's unacked leases, and closes. Later calls reject 'ERR_CLOSED'. */
  close(): Promise<void> {
    this.#closing ??= this.#serial(async () => {
      try {
        await this.#pushes.flush();
        await this.#view.commit(() => this.#leasing.releaseOwn());
      } finally {
        this.#unwatch?.();
        this.#wake();
        await this.#storage.close();
      }
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Leases as they become available, until the queue closes or `signal` aborts. Waits for pushes. */
  async *iterate(options?: IterateOptions): AsyncGenerator<Lease<T>, void, undefined> {
    const o = optionsObject(options);
    check(o, ITERATE_RULES);
    const { clock, pollMs } = this.#options;
    const context = {
      clock,
      take: (max: number, options: TakeOptions<T>) => this.take(max, options),
      closed: () => this.#closing !== undefined,
      waiters: this.#waiters,
      nextEnd: (now: number) => this.#view.holdsEndAfter(now),
      pollMs: this.#storage.watch ? Infinity : pollMs,
    };
    yield* leases(context, o.max ?? 100, o.leaseMs, o.signal);
  }

  [Symbol.asyncIterator](): AsyncIterator<Lease<T>> {
    return this.iterate();
  }

  // ---- internals ----

  #checkOpen(): void {
    if (this.#closing) throw new SluiceError('ERR_CLOSED', `Queue "${this.name}" is closed; open it again to use it.`);
  }

  /** Runs `fn` alone among this handle's operations, once the queue is known open. */
  #run<R>(fn: () => Promise<R>): Promise<R> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serial(fn);
  }

  /** Reads through a fresh view, read again (and put right) when it turns out stale. */
  async #read<R>(fn: () => Promise<R>): Promise<R> {
    await this.#view.refresh();
    return this.#view.commit(async () => ({ result: await fn() }));
  }

  /** Ends the holds whose time is up; returns the time. */
  #expire(): number {
    const now = this.#options.clock.now();
    this.#view.state.holds.expire(now);
    return now;
  }

  readonly #lostFn = (segment: number, from: number, to: number) => this.#lost(segment, from, to);

  #decode(item: StoredItem): T {
    return this.#options.codec.decode(item.bytes.subarray(item.start, item.end));
  }

  #report(detail: RecoverDetail): void {
    this.recovered.push(detail);
    this.#later('recover', detail);
  }

  /** Dispatched a tick later, so that listeners added right after `open` resolves hear what open found. */
  #later(type: 'recover' | 'corrupt', detail: RecoverDetail | CorruptDetail): void {
    this.#options.clock.setTimeout(() => this.dispatchEvent(new CustomEvent(type, { detail })), 0);
  }

  /** Items `[from, to)` that `segment` should hold cannot be read (see `lost`). */
  #lost(segment: number, from: number, to: number): Promise<void> {
    return lost(this.#view, { queue: this.name, segment, from, to, corruption: this.#options.corruption }, {
      tell: (detail) => this.dispatchEvent(new CustomEvent('corrupt', { detail })),
      ack: (seqs) => this.#leasing.acking(seqs, undefined),
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }
}
