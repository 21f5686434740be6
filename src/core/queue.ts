import { SluiceError } from './errors.js';
import { TypedEventTarget } from './typed-events.js';
import type { CorruptDetail, QueueEventMap, RecoverDetail } from './events.js';
import { parseIds, randomId } from './ids.js';
import type { IterateOptions, Lease, LeaseEntry, QueueEntry, QueueStats, ReleaseOptions, TakeOptions } from './lease.js';
import {
  ack,
  allAcked,
  attemptsOf,
  decodeMeta,
  emptyMeta,
  encodeMeta,
  hold,
  holdOf,
  isAcked,
  prune,
  unhold,
  type Hold,
  type QueueMeta,
} from './meta.js';
import { integer, positive, resolveOptions, type QueueOptions, type ResolvedOptions } from './options.js';
import { countIn, findRange, toRanges, type Range } from './ranges.js';
import { planAppend, type Unit } from './group-commit.js';
import { waitFor, type Waiting } from './wait.js';
import { encodeItems } from './encode.js';
import { Segments, type StoredItem, type TailDamage } from './segments.js';
import type { QueueStorage, StorageBatch, Store } from './store.js';

/** One commit as planned against the current view; `apply` runs only once the store accepted it. */
interface Plan<R> {
  readonly meta?: QueueMeta;
  readonly batch?: Omit<StorageBatch, 'durability' | 'meta'>;
  readonly result: R;
  readonly apply?: () => void;
}

/** Thrown inside a plan when what the view says is no longer in the store: reload and plan again. */
const STALE = Symbol('stale');

/**
 * A durable FIFO of items. Pushes are stored before they resolve; `take` leases items to this handle until they
 * are acked (removed for good) or released; an item is removed only by an ack, so delivery is at-least-once.
 * Several handles (tabs, processes) may open one queue: every change is a compare-and-write on the store, retried
 * on a fresh view when another handle got there first.
 */
export class Queue<T> extends TypedEventTarget<QueueEventMap> {
  /** The store used when `QueueOptions.store` is absent. Set by the platform entries (`sluice` in Node, browsers). */
  protected static defaultStore: (() => Store) | undefined;

  readonly name: string;
  /** What recovery on open found and repaired, also sent as 'recover' events. */
  readonly recovered: RecoverDetail[] = [];
  readonly #o: ResolvedOptions<T>;
  readonly #storage: QueueStorage;
  readonly #segments: Segments;
  readonly #owner: string;
  #meta: QueueMeta = emptyMeta;
  #token = '';
  #damage: TailDamage | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #pending: Unit[] = [];
  #flushQueued = false;
  #closing: Promise<void> | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #unwatch: (() => void) | undefined;
  readonly #gone = new Map<string, boolean>();
  /** Lease ids: random once per handle, then counted, so a take costs no trip to the CSPRNG. */
  readonly #leasePrefix = randomId();
  #leases = 0;

  /** Opens (creating when absent) the queue `options.name` in `options.store`. */
  static async open<T>(options: QueueOptions<T>): Promise<Queue<T>> {
    const resolved = resolveOptions(options, this.defaultStore);
    const storage = await resolved.store.open(resolved.name);
    const queue = new this(resolved, storage);
    try {
      await queue.#exclusive(() => queue.#recover());
    } catch (error) {
      await storage.close();
      throw error;
    }
    return queue;
  }

  /** Use `Queue.open`. */
  protected constructor(options: ResolvedOptions<T>, storage: QueueStorage) {
    super();
    this.name = options.name;
    this.#o = options;
    this.#storage = storage;
    this.#segments = new Segments(storage, options.maxItemBytes);
    this.#owner = storage.owner ?? randomId();
    this.#unwatch = storage.watch?.(() => {
      this.#wake();
      this.dispatchEvent(new Event('change'));
    });
  }

  /** Stores `item`; resolves once it is durable (to the queue's `durability`). */
  push(item: T): Promise<void> {
    return this.pushMany([item]);
  }

  /** Stores `items` all or nothing, in one commit; resolves once they are durable. */
  pushMany(items: readonly T[]): Promise<void> {
    try {
      this.#checkOpen();
      if (!Array.isArray(items)) throw new SluiceError('ERR_INVALID_OPTION', 'Expected `items` to be an array.');
      if (items.length === 0) return Promise.resolve();
      const frames = encodeItems(this.#o.codec, items, this.#o.maxItemBytes);
      return new Promise((resolve, reject) => {
        this.#pending.push({ frames, count: items.length, resolve, reject });
        if (!this.#flushQueued) {
          this.#flushQueued = true;
          // A microtask later, every push started in this tick is waiting: they commit together.
          queueMicrotask(() => void this.#exclusive(() => this.#flush()));
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Leases up to `max` of the oldest available items to this handle; `undefined` when none is available. */
  take(max = 1, options: TakeOptions<T> = {}): Promise<Lease<T> | undefined> {
    return this.#run(async () => {
      integer('max', max, 1, 2 ** 31);
      const leaseMs = options.leaseMs ?? this.#o.leaseMs;
      positive('leaseMs', leaseMs);
      options.signal?.throwIfAborted();
      return this.#commit(async () => {
        const now = this.#o.clock.now();
        const gone = await this.#goneOwners(now);
        const meta = prune(this.#meta, now, (owner) => gone.has(owner));
        const chosen: LeaseEntry<T>[] = [];
        for await (const { item, held } of this.#walk(meta, now)) {
          // Without a filter, held items are passed over before paying for their decoding.
          if (held && !options.filter) continue;
          const entry = this.#entry(meta, item, held);
          const wanted = options.filter ? options.filter(entry) : entry.state === 'ready';
          if (wanted === 'stop') break;
          if (wanted && entry.state === 'ready') chosen.push({ id: entry.id, value: entry.value, attempts: entry.attempts + 1 });
          if (chosen.length === max) break;
        }
        options.signal?.throwIfAborted();
        if (chosen.length === 0) {
          // Nothing here: look once whether another handle pushed since this view was taken.
          if ((await this.#storage.token()) !== this.#token) throw STALE;
          return { result: undefined };
        }
        const lease: Hold = { lease: `${this.#leasePrefix}.${(this.#leases++).toString(36)}`, owner: this.#owner, until: now + leaseMs, ranges: toRanges(chosen.map((e) => Number(e.id))) };
        return { meta: hold(meta, lease, true), result: this.#lease(lease, chosen) };
      });
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
      integer('max', max, 1, 2 ** 31);
      await this.#refreshIfStale();
      return this.#commit(async () => {
        const now = this.#o.clock.now();
        const out: T[] = [];
        for await (const { item, held } of this.#walk(this.#meta, now)) {
          if (held) continue;
          out.push(this.#decode(item));
          if (out.length === max) break;
        }
        return { result: out };
      });
    });
  }

  /** Every unacked entry in queue order with its state (at most `limit`), for inspection and tools. */
  list(options: { readonly limit?: number } = {}): Promise<QueueEntry<T>[]> {
    return this.#run(async () => {
      const limit = options.limit ?? Infinity;
      if (limit !== Infinity) integer('limit', limit, 0, 2 ** 31);
      await this.#refreshIfStale();
      return this.#commit(async () => {
        const now = this.#o.clock.now();
        const out: QueueEntry<T>[] = [];
        if (limit === 0) return { result: out };
        for await (const { item, held } of this.#walk(this.#meta, now)) {
          out.push(this.#entry(this.#meta, item, held));
          if (out.length >= limit) break;
        }
        return { result: out };
      });
    });
  }

  /** Removes the items `ids` whatever their state (leased ones included); resolves how many were removed. */
  remove(ids: readonly string[]): Promise<number> {
    return this.#run(async () => {
      const seqs = parseIds(ids);
      return this.#commit(() => {
        const next = this.#segments.next(this.#meta.head);
        const live = seqs.filter((s) => s < next && !isAcked(this.#meta, s));
        if (live.length === 0) return { result: 0 };
        const ranges = toRanges(live);
        return this.#acking(ack(this.#meta, ranges), ranges, live.length);
      });
    });
  }

  /** Items pushed and not yet acked, leased ones included. */
  size(): Promise<number> {
    return this.#run(async () => {
      await this.#refreshIfStale();
      return this.#size();
    });
  }

  stats(): Promise<QueueStats> {
    return this.#run(async () => {
      await this.#refreshIfStale();
      const now = this.#o.clock.now();
      let leased = 0;
      let delayed = 0;
      for (const h of this.#meta.holds) {
        if (h.until <= now) continue;
        const n = h.ranges.reduce((sum, [s, e]) => sum + e - s, 0);
        if (h.lease) leased += n;
        else delayed += n;
      }
      const list = this.#segments.list;
      return { size: this.#size(), leased, delayed, segments: list.length, bytes: list.reduce((sum, s) => sum + s.length, 0) };
    });
  }

  /** Removes every item, leased ones included (acking them later is a harmless no-op). */
  clear(): Promise<void> {
    return this.#run(() =>
      this.#commit(() => {
        const head = this.#segments.next(this.#meta.head);
        const remove = this.#segments.list.map((s) => s.id);
        return { meta: { head, acked: [], holds: [], attempts: [] }, batch: { remove }, result: undefined };
      }),
    );
  }

  /** Waits for pending pushes, releases this handle's unacked leases, and closes. Later calls reject 'ERR_CLOSED'. */
  close(): Promise<void> {
    this.#closing ??= this.#exclusive(async () => {
      try {
        await this.#flush();
        await this.#commit(() => {
          const mine = this.#meta.holds.filter((h) => h.owner === this.#owner);
          if (mine.length === 0) return { result: undefined };
          return { meta: unhold(this.#meta, mine.flatMap((h) => h.ranges)), result: undefined };
        });
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
  async *iterate(options: IterateOptions = {}): AsyncGenerator<Lease<T>, void, undefined> {
    const { max = 100, leaseMs, signal } = options;
    while (!this.#closing && !signal?.aborted) {
      const waiting = this.#waitForChange(signal);
      let lease: Lease<T> | undefined;
      try {
        lease = await this.take(max, leaseMs === undefined ? { signal } : { leaseMs, signal });
      } catch (error) {
        waiting.cancel();
        if (this.#closing || signal?.aborted) return;
        throw error;
      }
      if (lease) {
        waiting.cancel();
        yield lease;
      } else {
        await waiting.promise;
      }
    }
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
    return this.#exclusive(fn);
  }

  #exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #decode(item: StoredItem): T {
    return this.#o.codec.decode(item.bytes.subarray(item.start, item.end));
  }

  /**
   * Plans against the current view and commits; when another handle committed first, reloads and plans again.
   * Only a successful commit changes this handle's view.
   */
  async #commit<R>(plan: () => Plan<R> | Promise<Plan<R>>): Promise<R> {
    for (;;) {
      let planned: Plan<R>;
      try {
        planned = await plan();
      } catch (error) {
        if (error !== STALE) throw error;
        await this.#reload();
        continue;
      }
      const { meta, batch, result, apply } = planned;
      if (!meta && !batch) return result;
      const full: StorageBatch = { ...batch, ...(meta && { meta: encodeMeta(meta) }), durability: this.#o.durability };
      let token: string | undefined;
      try {
        token = await this.#storage.commit(this.#token, full);
      } catch (error) {
        // What a failed commit left behind is unknown: read the store again before the next operation plans.
        this.#token = '';
        throw error instanceof SluiceError ? error : new SluiceError('ERR_STORAGE', `The store failed to commit to queue "${this.name}".`, { cause: error });
      }
      if (token === undefined) {
        await this.#reload();
        continue;
      }
      this.#token = token;
      if (meta) this.#meta = meta;
      if (batch?.write) this.#segments.appended(batch.write.segment, batch.write.offset, batch.write.bytes);
      if (batch?.remove || batch?.quarantine) {
        const dropped = new Set([...(batch.remove ?? []), ...(batch.quarantine ?? [])]);
        await this.#segments.refresh(this.#segments.list.filter((s) => !dropped.has(s.id)));
      }
      apply?.();
      return result;
    }
  }

  async #reload(): Promise<void> {
    const snapshot = await this.#storage.load();
    this.#token = snapshot.token;
    const meta = snapshot.meta && decodeMeta(snapshot.meta);
    if (snapshot.meta && !meta) {
      // Unreadable metadata is rebuilt from the segments: every stored item comes back, acked or not, which keeps
      // delivery at-least-once rather than losing what the metadata said was pending.
      this.#meta = { ...emptyMeta, head: snapshot.segments[0]?.id ?? 0 };
      this.#report({ queue: this.name, kind: 'meta' });
    } else {
      this.#meta = meta ?? emptyMeta;
    }
    this.#damage = await this.#segments.refresh(snapshot.segments);
  }

  async #refreshIfStale(): Promise<void> {
    if (!this.#token || (await this.#storage.token()) !== this.#token) await this.#reload();
  }

  /** On open: load, and cut a torn tail so that the next writer starts from the last complete commit. */
  async #recover(): Promise<void> {
    await this.#reload();
    await this.#commit(() => this.#repair() ?? { result: undefined });
  }

  /** A commit cutting the tail back to its last complete unit, when it has bytes past that. */
  #repair(): Plan<undefined> | undefined {
    const damage = this.#damage;
    if (!damage) return undefined;
    if (damage.corrupt && this.#o.corruption === 'throw') {
      throw new SluiceError(
        'ERR_CORRUPT',
        `Segment ${damage.segment} of queue "${this.name}" fails its checksum at byte ${damage.offset}, and valid data follows, so it is not a torn write. ` +
          `Open the queue with corruption: 'skip' to cut the segment there (losing ${damage.bytes} bytes), or inspect the store first.`,
      );
    }
    const detail: RecoverDetail = { queue: this.name, kind: 'tail', segment: damage.segment, offset: damage.offset, bytes: damage.bytes, corrupt: damage.corrupt };
    return {
      batch: { write: { segment: damage.segment, offset: damage.offset, bytes: new Uint8Array(0) } },
      result: undefined,
      apply: () => {
        this.#damage = undefined;
        this.#report(detail);
      },
    };
  }

  #report(detail: RecoverDetail): void {
    this.recovered.push(detail);
    // Later, so that listeners added right after `open` resolves hear about what open repaired.
    globalThis.setTimeout(() => this.dispatchEvent(new CustomEvent('recover', { detail })), 0);
  }

  /** Commits every waiting push, in order, a segment at a time. */
  async #flush(): Promise<void> {
    this.#flushQueued = false;
    while (this.#pending.length > 0) {
      let units: Unit[] = [];
      try {
        await this.#commit(() => {
          const repair = this.#repair();
          if (repair) return repair;
          const planned = planAppend(this.#pending, this.#segments.tail, this.#segments.next(this.#meta.head), this.#o);
          units = planned.units;
          return { batch: { write: planned.write }, result: undefined };
        });
      } catch (error) {
        const failed = this.#pending;
        this.#pending = [];
        for (const unit of failed) unit.reject(error);
        return;
      }
      if (units.length === 0) continue;
      this.#pending.splice(0, units.length);
      for (const unit of units) unit.resolve();
      this.#wake();
      const count = units.reduce((sum, u) => sum + u.count, 0);
      this.dispatchEvent(new CustomEvent('push', { detail: { count } }));
    }
  }

  /**
   * Unacked items in order from the head, each with the hold over it (if any). Segments wholly acked are skipped
   * without reading; a segment that lost items to damage is reported through the corruption policy.
   */
  async *#walk(meta: QueueMeta, now: number): AsyncGenerator<{ item: StoredItem; held: Hold | undefined }> {
    const list = this.#segments.list;
    // Everything below the head is gone: start at its segment, and at its item there.
    for (let i = Math.max(0, this.#segments.indexOf(meta.head)); i < list.length; i++) {
      const info = list[i]!;
      const end = list[i + 1]?.id;
      if (end !== undefined && allAcked(meta, info.id, end)) continue;
      const { items, damaged, vanished } = await this.#segments.items(i);
      if (vanished) throw STALE;
      for (let k = Math.max(0, meta.head - info.id); k < items.length; k++) {
        const item = items[k]!;
        if (!isAcked(meta, item.seq)) yield { item, held: holdOf(meta, item.seq, now) };
      }
      if (damaged && end !== undefined) await this.#lost(meta, info.id, info.id + items.length, end);
    }
  }


  /** Items `[from, end)` of segment `segment` cannot be read. */
  async #lost(meta: QueueMeta, segment: number, from: number, end: number): Promise<void> {
    const lost: number[] = [];
    for (let seq = from; seq < end; seq++) if (!isAcked(meta, seq)) lost.push(seq);
    if (lost.length === 0) return;
    const offset = this.#segments.damageOf(segment) ?? 0;
    const detail: CorruptDetail = { queue: this.name, segment, offset, lost: lost.map(String), action: this.#o.corruption };
    this.dispatchEvent(new CustomEvent('corrupt', { detail }));
    if (this.#o.corruption === 'throw') {
      throw new SluiceError(
        'ERR_CORRUPT',
        `Segment ${segment} of queue "${this.name}" fails its checksum at byte ${offset}: ${lost.length} unacked items after it cannot be read. ` +
          `Open the queue with corruption: 'skip' to deliver the rest and count those as lost.`,
      );
    }
    // 'skip': count the unreadable items as acked, then walk again on the new state.
    const ranges = toRanges(lost);
    await this.#commit(() => this.#acking(ack(this.#meta, ranges), ranges, undefined));
    throw STALE;
  }

  #entry(meta: QueueMeta, item: StoredItem, held: Hold | undefined): QueueEntry<T> {
    const decode = () => this.#decode(item);
    let value: { v: T } | undefined;
    return {
      id: String(item.seq),
      // Decoded when read: a filter that passes over leased and delayed entries pays nothing for them.
      get value() {
        value ??= { v: decode() };
        return value.v;
      },
      attempts: attemptsOf(meta, item.seq),
      state: !held ? 'ready' : held.lease ? 'leased' : 'delayed',
      availableAt: held ? held.until : 0,
    };
  }


  #lease(held: Hold, entries: LeaseEntry<T>[]): Lease<T> {
    const own = new Set(entries.map((e) => e.id));
    const pick = (ids: readonly string[] | undefined): number[] => {
      if (ids === undefined) return entries.map((e) => Number(e.id));
      if (!Array.isArray(ids)) throw new SluiceError('ERR_INVALID_OPTION', 'Expected `ids` to be an array of entry ids.');
      for (const id of ids) {
        if (!own.has(id)) throw new SluiceError('ERR_INVALID_OPTION', `Expected \`ids\` to hold ids of this lease's entries, got "${String(id)}".`);
      }
      return [...new Set(ids)].map(Number).sort((a, b) => a - b);
    };
    return {
      entries,
      expiresAt: held.until,
      ack: (ids) => this.#run(async () => this.#settle(held.lease, pick(ids), 'ack')),
      release: (ids, options?: ReleaseOptions) =>
        this.#run(async () => {
          const delayMs = options?.delayMs ?? 0;
          if (typeof delayMs !== 'number' || !(delayMs >= 0) || !Number.isFinite(delayMs)) {
            throw new SluiceError('ERR_INVALID_OPTION', `Expected \`delayMs\` to be a finite number >= 0, got ${String(delayMs)}.`);
          }
          return this.#settle(held.lease, pick(ids), 'release', delayMs);
        }),
    };
  }

  /**
   * Acks or releases `seqs` of lease `lease`. An ack rejects only when another lease holds one of the items now (it
   * expired and was taken again); items released or expired but not taken since are acked. A release skips items
   * the lease no longer holds.
   */
  #settle(lease: string, seqs: number[], action: 'ack' | 'release', delayMs = 0): Promise<void> {
    return this.#commit(() => {
      const meta = this.#meta;
      const now = this.#o.clock.now();
      const live = seqs.filter((seq) => !isAcked(meta, seq));
      if (action === 'ack') {
        const taken = live.filter((seq) => {
          const held = holdOf(meta, seq, now);
          return held !== undefined && held.lease !== '' && held.lease !== lease;
        });
        if (taken.length > 0) {
          throw new SluiceError(
            'ERR_LEASE_EXPIRED',
            `The lease on ${taken.length} of these items expired and another lease holds them now; nothing was acked.`,
          );
        }
        if (live.length === 0) return { result: undefined };
        const ranges = toRanges(live);
        return this.#acking(ack(meta, ranges), ranges, undefined);
      }
      const mine = live.filter((seq) => meta.holds.some((h) => h.lease === lease && findRange(h.ranges, seq) >= 0));
      if (mine.length === 0) return { result: undefined };
      const ranges = toRanges(mine);
      let next = unhold(meta, ranges);
      if (delayMs > 0) next = hold(next, { lease: '', owner: '', until: now + delayMs, ranges }, false);
      return { meta: next, result: undefined, apply: () => this.#wake() };
    });
  }

  /** A plan committing `meta` after acking `acked`, removing the segments that leaves wholly acked. */
  #acking<R>(meta: QueueMeta, acked: readonly Range[], result: R): Plan<R> {
    const { remove, quarantine } = this.#segments.freeable(meta, acked, this.#meta.head);
    const batch = remove.length || quarantine.length ? { ...(remove.length && { remove }), ...(quarantine.length && { quarantine }) } : undefined;
    return { meta, ...(batch && { batch }), result };
  }

  #size(): number {
    const meta = this.#meta;
    const next = this.#segments.next(meta.head);
    return next - meta.head - countIn(meta.acked, meta.head, next);
  }

  /** Owners of holds that the store says are gone (their leases come back before they expire). */
  async #goneOwners(now: number): Promise<Set<string>> {
    const gone = new Set<string>();
    const isGone = this.#storage.isGone?.bind(this.#storage);
    if (!isGone) return gone;
    for (const h of this.#meta.holds) {
      if (!h.owner || h.owner === this.#owner || h.until <= now || gone.has(h.owner)) continue;
      let dead = this.#gone.get(h.owner);
      if (dead === undefined) this.#gone.set(h.owner, (dead = await isGone(h.owner)));
      if (dead) gone.add(h.owner);
    }
    // Only the dead stay dead: a live owner is asked again next time.
    for (const [owner, dead] of this.#gone) if (!dead) this.#gone.delete(owner);
    return gone;
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Resolves when something may have become available: a push, another handle's commit, a hold ending, a poll. */
  #waitForChange(signal: AbortSignal | undefined): Waiting {
    const now = this.#o.clock.now();
    const ends = this.#meta.holds.map((h) => h.until).filter((u) => u > now);
    const ms = Math.min(this.#storage.watch ? Infinity : this.#o.pollMs, ends.length ? Math.min(...ends) - now : Infinity);
    const waiting = waitFor({ clock: this.#o.clock, ms, signal, waiters: this.#waiters });
    if (this.#closing) waiting.cancel();
    return waiting;
  }
}
