import { Blobs, type QueueBlobs } from './blobs.js';
import { encodeItems } from './encode.js';
import { openGuarded, partitionExists } from './guarded-storage.js';
import { SluiceError } from './errors.js';
import type { QueueEventMap, RecoverDetail } from './events.js';
import { byPartition, entryId } from './ids.js';
import { endable, leases } from './iteration.js';
import { append } from './long-lists.js';
import { Members } from './members.js';
import { notAnOutboxs } from './outbox-names.js';
import { checkList, checkTake, ITERATE_OPTIONS, ITERATE_RULES, PUSH_OPTIONS, PUSH_RULES, REMOVE_OPTIONS, resolveOptions, type QueueOptions, type ResolvedOptions } from './options.js';
import { checkCount, RECOUNT, settleCount } from './partition-count.js';
import { Partition } from './partition.js';
import type { IterateOptions, Lease, ListOptions, PushOptions, QueueEntry, QueueStats, RemoveOptions, TakeOptions } from './queue-types.js';
import { hash, inTurn, listAcross, membersName, partitionName, sizeOf, sum, takeAcross } from './partitioned.js';
import { RecoveryEvents } from './recovery-events.js';
import { holdParts, type AckRemoval } from './rewinds.js';
import { serial } from './serial.js';
import { shiftOne } from './shift.js';
import type { Store } from './store.js';
import { TypedEventTarget } from './typed-events.js';
import { check, integer, isBoolean, openedWith, optionsObject } from './validate.js';

/**
 * A durable FIFO of items. Pushes are stored before they resolve; `take` leases items to this handle until they
 * are acked (removed for good) or released; an item is removed only by an ack, so delivery is at-least-once.
 * Several handles (tabs, processes) may open one queue: every change is a compare-and-write on the store, made
 * again on a fresh view when another handle got there first.
 *
 * A queue is one `Partition` (its storage, view, group commit, leasing, recovery) or several; this checks and spreads.
 */
export class Queue<T> extends TypedEventTarget<QueueEventMap> {
  /** The store used when `QueueOptions.store` is absent. Set by the platform entries (`sluice` in Node, browsers). */
  protected static defaultStore: (() => Store) | undefined;

  readonly name: string;
  /** How many partitions the queue is made of. */
  get partitions(): number {
    return this.#parts.length;
  }
  /** Large values beside the items, where the store keeps them (see `BlobStorage`); undefined where it does not. */
  get blobs(): QueueBlobs | undefined {
    return this.#blobs;
  }
  /** What recovery found and repaired, also sent as 'recover' events. */
  readonly recovered: RecoverDetail[] = [];
  readonly #options: ResolvedOptions<T>;
  readonly #parts: Partition<T>[] = [];
  readonly #serial = serial();
  #closing: Promise<void> | undefined;
  readonly #waiters = new Set<() => void>();
  #blobs: QueueBlobs | undefined;
  /** Where the next keyless push goes: from a partition drawn by each handle (from 0, short-lived ones filled the first). */
  #pushAt = Math.floor(Math.random() * 0x7fffffff);
  /** The count being recorded again in every partition (see `#push`). */
  #recounting: Promise<void> | undefined;
  /** The handles taking from this queue's partitions, so that each takes from partitions of its own first. */
  readonly #members: Members | undefined;
  /** Tells what recovery finds in the partitions ('recover' and 'corrupt' events, `recovered`). */
  readonly #found: RecoveryEvents;

  /** Opens (creating when absent) the queue `options.name` in `options.store`; refused where it is an outbox's (see `notAnOutboxs`). Detached, `this` is undefined: `Queue`'s. */
  static async open<T>(options: QueueOptions<T>): Promise<Queue<T>> {
    const queue = new (this ?? Queue)(await notAnOutboxs(resolveOptions(options, (this ?? Queue).defaultStore)));
    try {
      await queue.#openPart(0);
      await queue.#settle();
    } catch (error) {
      await Promise.allSettled(queue.#parts.map((p) => p.close()));
      throw queue.#found.failed(error);
    }
    queue.#found.opened();
    return queue;
  }

  /** Use `Queue.open`. */
  protected constructor(options: ResolvedOptions<T>) {
    super();
    this.#options = openedWith(options, 'Queue');
    this.name = options.name;
    this.#found = new RecoveryEvents(this, options.clock, this.recovered);
    holdParts(this, this.#parts);
    if (options.partitions > 1) this.#members = new Members(() => openGuarded(options.store, membersName(options.name), options.name), options.clock);
  }

  /** Stores `item`; resolves its entry id once it is durable (to the queue's `durability`). */
  push(item: T, options?: PushOptions): Promise<string> {
    return this.#push([item], options, (p, first) => entryId(p, first));
  }

  /** Stores `items` all or nothing (in one partition), in one commit; resolves their entry ids once they are durable. */
  pushMany(items: readonly T[], options?: PushOptions): Promise<string[]> {
    return this.#push(items, options, (p, first) => items.map((_, i) => entryId(p, first + i)));
  }

  /**
   * The one promise of a push is the group commit's, resolving to the ids `ids` makes of the partition and the first
   * item's sequence number: a burst of pushes is mostly promises, and each layer more costs (most in Firefox).
   */
  #push<R>(items: readonly T[], options: PushOptions | undefined, ids: (p: number, first: number) => R): Promise<R> {
    try {
      this.#checkOpen();
      const { key } = optionsObject(options, 'options', PUSH_OPTIONS);
      check({ items, key }, PUSH_RULES);
      // No items, no ids: nothing to commit.
      if (items.length === 0) return Promise.resolve(ids(0, 0));
      const p = key === undefined ? this.#pushAt++ % this.#parts.length : hash(key) % this.#parts.length;
      const encoded = encodeItems(this.#options.codec, items, this.#options.maxItemBytes);
      const push = () => this.#parts[p]!.push(encoded, items.length, (first) => ids(p, first));
      // Its partition lost its record of the count (a Redis restarted empty): read again, recorded as an open does.
      // (A queue of one partition records none: its push's promise stays the group commit's own.)
      if (this.#parts.length === 1) return push();
      return push().catch((error: unknown) => (RECOUNT.has(error as object) ? this.#recount().then(push) : Promise.reject(error)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Leases up to `max` of the oldest available items to this handle; `undefined` when none is available. */
  take(max = 1, options?: TakeOptions<T>): Promise<Lease<T> | undefined> {
    return this.#run(async () => {
      const o = optionsObject(options);
      checkTake(o, max);
      o.signal?.throwIfAborted();
      const leaseMs = o.leaseMs ?? this.#options.leaseMs;
      const parts = this.#parts;
      return parts.length === 1 ? parts[0]!.take(max, leaseMs, o) : takeAcross(parts, this.#members!, max, leaseMs, o);
    });
  }

  /**
   * Takes the oldest available item and acks it at once: simple, but an item is lost if the caller then fails. An ack
   * that fails puts the item back (see `shiftOne`).
   */
  shift(): Promise<T | undefined> {
    return shiftOne(() => this.take(1), (id) => this.list({ ids: [id] }).then((entries) => entries.length > 0));
  }

  /** The oldest available items (partition by partition), without leasing them. */
  peek(max = 1): Promise<T[]> {
    return this.#run(async () => {
      check({ max }, { max: integer(1, 2 ** 31) });
      const out: T[] = [];
      for (const part of this.#parts) if (out.length < max) append(out, await part.peek(max - out.length));
      return this.#counted(out);
    });
  }

  /** Unacked entries in queue order with their state (at most `limit`, after `after`, or only `ids`), for inspection and tools. */
  list(options?: ListOptions): Promise<QueueEntry<T>[]> {
    return this.#run(async () => {
      const o = optionsObject(options);
      checkList(o, this.#parts.length);
      return this.#counted(await listAcross(this.#parts, o));
    });
  }

  /** Removes the items `ids` whatever their state (leased ones too, unless `leased` is false); resolves how many. */
  remove(ids: readonly string[], options?: RemoveOptions): Promise<number> {
    return this.#run(async () => {
      const { leased = true } = optionsObject(options, 'options', REMOVE_OPTIONS);
      check({ leased }, { leased: isBoolean });
      const parts = [...byPartition(ids)].filter(([p]) => p < this.#parts.length);
      // One partition is all or nothing by itself; several are each checked first (see `Partition.ready`, `inTurn`). The
      // first is read too: another handle's change of the count is recorded there (see `#counted`).
      if (this.#parts.length > 1) for (const p of new Set([0, ...parts.map(([p]) => p)])) await this.#parts[p]!.ready();
      this.#counted(undefined);
      let removed = 0;
      await inTurn(parts, async ([p, seqs]) => (removed += await this.#parts[p]!.remove(seqs, leased, options as AckRemoval | undefined)), (done) => done.map(([p]) => p), 'removed');
      return removed;
    });
  }

  /** Items pushed and not yet acked, leased ones included. */
  size(): Promise<number> {
    return this.#run(async () => this.#counted(await sizeOf(this.#parts)));
  }

  stats(): Promise<QueueStats> {
    return this.#run(async () => this.#counted(sum(await Promise.all(this.#parts.map((part) => part.stats())))));
  }

  /** Removes every item, leased ones included (acking them later is a harmless no-op); resolves how many it removed. */
  clear(): Promise<number> {
    return this.#run(async () => {
      if (this.#parts.length > 1) for (const part of this.#parts) await part.ready();
      this.#counted(undefined);
      return inTurn(this.#parts, (part) => part.clear(), (all) => all.map((_, p) => p), 'removed');
    });
  }

  /** Waits for pending pushes, releases this handle's unacked leases, and closes. Later calls reject 'ERR_CLOSED'. */
  close(): Promise<void> {
    return (this.#closing ??= this.#serial(async () => {
      try {
        for (const part of this.#parts) await part.settle();
      } finally {
        this.#wake();
        await Promise.all([...this.#parts.map((p) => p.close()), this.#members?.leave()]);
      }
    }));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Leases as they become available, until the queue closes or `signal` aborts. Waits for pushes. Begun closed: 'ERR_CLOSED'. */
  iterate(options?: IterateOptions): AsyncGenerator<Lease<T>, void, undefined> {
    return endable((end) => {
      const o = optionsObject(options, 'options', ITERATE_OPTIONS);
      check(o, ITERATE_RULES);
      const context = {
        clock: this.#options.clock,
        take: (max: number, options: TakeOptions<T>) => this.take(max, options),
        closed: () => this.#closing !== undefined, checkOpen: () => this.#checkOpen(),
        waiters: this.#waiters,
        nextEnd: (now: number) => Math.min(...this.#parts.map((p) => p.view.wakeAfter(now))),
        pollMs: this.#parts.every((p) => p.watched) ? Infinity : this.#options.pollMs,
        watch: () => this.#parts.forEach((p) => p.watch()),
      };
      return leases(context, o.max ?? 100, o.leaseMs, o.signal, end);
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Lease<T>> {
    return this.iterate();
  }

  /** A 'change' listener hears of other handles' commits from then on (see `Partition.watch`). */
  protected override listening(type: string): void {
    if (type === 'change') for (const part of this.#parts) part.watch();
  }

  /** The partitions read again, the count recorded in each as an open does: once for the pushes that ask together. */
  #recount(): Promise<void> {
    return (this.#recounting ??= sizeOf(this.#parts).then(() => this.#settle()).finally(() => (this.#recounting = undefined)));
  }

  /** Opens the partitions past the first, settling how many there are (see `settleCount`). */
  #settle(): Promise<void> {
    const { store, name, partitions } = this.#options;
    const exists = (p: number) => partitionExists(store, name, p);
    return settleCount({ name, parts: this.#parts, open: (p) => this.#openPart(p), exists, serial: this.#serial }, partitions);
  }

  async #openPart(p: number): Promise<Partition<T>> {
    const { store, name, writesWhenFull } = this.#options;
    const storage = await openGuarded(store, partitionName(name, p), name, writesWhenFull && { writesWhenFull });
    // A queue's blobs are its first partition's: one place, whatever the partition count.
    if (p === 0 && storage.blobs) this.#blobs = new Blobs(storage.blobs, this.#options.durability, () => this.#checkOpen());
    const part = await Partition.open<T>(storage, {
      options: this.#options,
      queue: this.name,
      partition: p,
      serial: this.#serial,
      run: (fn) => this.#run(fn),
      wake: () => this.#wake(),
      pushed: (count) => {
        this.#wake();
        this.dispatchHeard('push', () => new CustomEvent('push', { detail: { count } }));
      },
      changed: () => {
        this.#wake();
        this.dispatchHeard('change', () => new Event('change'));
      },
      recovered: (detail) => this.#found.recovered(detail, p),
      corrupt: (detail, later) => this.#found.corrupt(detail, p, later),
    });
    this.#parts[p] = part;
    return part;
  }

  /**
   * `value`, read from views just refreshed, unless a partition records another count: another handle changed it, and
   * this one, opened with the old, would read part of the queue (and `remove` and `clear` miss what is elsewhere).
   */
  #counted<R>(value: R): R {
    for (const part of this.#parts) checkCount(part.view.state.partitions, this.#options.partitions, this.name, false, () => part.view.invalidate());
    return value;
  }

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

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }
}
