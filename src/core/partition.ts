import { decodeItem } from './codec.js';
import { CommitView, STALE } from './commit-view.js';
import { SluiceError } from './errors.js';
import { entryId } from './ids.js';
import type { CorruptDetail, RecoverDetail } from './events.js';
import { GroupCommit } from './group-commit.js';
import { Leasing } from './leasing.js';
import { UNTAKE, type PartLease } from './part-lease.js';
import type { ResolvedOptions } from './options.js';
import { checkCount } from './partition-count.js';
import type { QueueEntry, QueueStats, TakeOptions } from './queue-types.js';
import { lost, relister, repairPlan } from './recovery.js';
import { removable, type AckRemoval } from './rewinds.js';
import type { StoredItem } from './segments.js';
import type { Serial } from './serial.js';
import type { QueueStorage } from './store.js';
import { itemAt, walk } from './walk.js';

/** What a partition needs of the queue it is part of. */
export interface PartitionContext<T> {
  readonly options: ResolvedOptions<T>;
  /** The queue's name, for messages and events. */
  readonly queue: string;
  /** Its number in the queue: the high part of its entries' ids. */
  readonly partition: number;
  readonly serial: Serial;
  /** Runs `fn` alone among the queue's operations, once the queue is known open. */
  readonly run: <R>(fn: () => Promise<R>) => Promise<R>;
  /** Something may have become available. */
  readonly wake: () => void;
  readonly pushed: (count: number) => void;
  /** Another handle committed to this partition. */
  readonly changed: () => void;
  readonly recovered: (detail: RecoverDetail) => void;
  readonly corrupt: (detail: CorruptDetail, later: boolean) => void;
}

/**
 * One storage's worth of a queue: its view (`CommitView`), group commit, leasing and recovery. A queue is one
 * partition, or `partitions` of them behind one name, each with its own commit order, so that handles working on
 * different partitions never contend.
 */
export class Partition<T> {
  readonly view: CommitView;
  readonly #storage: QueueStorage;
  readonly #c: PartitionContext<T>;
  readonly #pushes: GroupCommit;
  readonly #leasing: Leasing<T>;
  #unwatch: (() => void) | undefined;
  #closed = false;
  readonly #relist: () => boolean;

  /** Opens `storage` as a partition, reading it and putting right what a reload finds wrong. */
  static async open<T>(storage: QueueStorage, context: PartitionContext<T>): Promise<Partition<T>> {
    const partition = new Partition(storage, context);
    try {
      await context.serial(async () => {
        await partition.view.reload();
        await partition.view.commit(() => ({ result: undefined }));
      });
    } catch (error) {
      partition.#unwatch?.();
      // The open's own error is the one to tell, not a close that fails after it.
      await storage.close().catch(() => undefined);
      throw error;
    }
    return partition;
  }

  private constructor(storage: QueueStorage, context: PartitionContext<T>) {
    const { options } = context;
    this.#storage = storage;
    this.#c = context;
    this.#relist = relister(storage, () => this.view.loads);
    this.view = new CommitView(storage, options, () => repairPlan(this.view, context.queue, options.corruption, context.recovered, (detail) => context.corrupt(detail, true), context.partition, this.#relist));
    this.#pushes = new GroupCommit(this.view, options, context.serial, context.pushed, () => this.#counted(true));
    this.#leasing = new Leasing<T>({
      view: this.view,
      storage,
      clock: options.clock,
      decode: (item) => this.#decode(item),
      run: context.run,
      lost: this.#lost,
      wake: context.wake,
    });
  }

  /** The owner this handle's leases carry. */
  get owner(): string {
    return this.#leasing.owner;
  }

  /** True when the store can tell of other handles' commits (no polling needed). */
  get watched(): boolean {
    return this.#storage.watch !== undefined;
  }

  /**
   * Asks the store to tell of other handles' commits from now on, once something waits for them: a handle that only
   * takes and acks is never told, so it costs the store (a Redis subscriber, its messages) nothing.
   */
  watch(): void {
    if (this.#unwatch || this.#closed) return;
    this.#unwatch = this.#storage.watch?.(this.#c.changed);
    // Another handle may have committed since the caller last looked, before anything would have told: look again.
    if (this.#unwatch) this.#c.wake();
  }

  /** Resolves `done` of the sequence number of the first of `count` items framed in `frames`, once they are durable. */
  push<R>(frames: Uint8Array, count: number, done: (first: number) => R): Promise<R> {
    return this.#pushes.add(frames, count, done);
  }

  async take(max: number, leaseMs: number, options: TakeOptions<T>): Promise<PartLease<T> | undefined> {
    // The lease of the plan last made: one whose commit failed may have landed all the same (a store can fail after
    // it stored), and its items would stay leased to nobody until the lease ends. It is given back (where it landed)
    // before the take rejects.
    let planned: PartLease<T> | undefined;
    try {
      return await this.view.commit(
        async () => {
          planned = undefined;
          this.#counted();
          const plan = await this.#leasing.take(max, leaseMs, options);
          planned = plan.result;
          return plan;
        },
        false,
        () => this.#leasing.warm(),
      );
    } catch (error) {
      if (planned) await planned[UNTAKE]().catch(() => undefined);
      throw error;
    }
  }

  /** Up to `max` of the oldest available items, leasing none. */
  peek(max: number): Promise<T[]> {
    return this.#read(async () => {
      const out: T[] = [];
      walking: for await (const items of walk(this.view, this.#expire(), true, this.#lost)) {
        for (const { item } of items) {
          out.push(this.#decode(item));
          if (out.length === max) break walking;
        }
      }
      return out;
    });
  }

  /** Unacked entries in order from `from` (at most `limit`), or those of `seqs`. */
  list(limit: number, from: number, seqs: readonly number[] | undefined): Promise<QueueEntry<T>[]> {
    return this.#read(async () => {
      const out: QueueEntry<T>[] = [];
      const now = this.#expire();
      if (seqs) {
        for (const seq of seqs) {
          const item = await itemAt(this.view, seq);
          if (item && out.length < limit) out.push(this.#leasing.entry(item, this.view.state.holds.at(seq, now)));
        }
        return out;
      }
      if (limit === 0) return out;
      walking: for await (const items of walk(this.view, now, false, this.#lost, from)) {
        for (const { item, held } of items) {
          out.push(this.#leasing.entry(item, held));
          if (out.length >= limit) break walking;
        }
      }
      return out;
    });
  }

  /**
   * Removes `seqs` whatever their state (leased ones only when `leased`; only leased ones when `acks` says so, see
   * `HELD_ONLY`; none another handle holds, see `NOT_OTHERS`); resolves how many were there.
   */
  remove(seqs: readonly number[], leased = true, acks?: AckRemoval): Promise<number> {
    return this.view.commit(async () => {
      const next = this.view.next;
      const now = this.#c.options.clock.now();
      const { state } = this.view;
      const there = seqs.filter((s) => s < next && !state.isAcked(s));
      const live = removable(there, (s) => state.holds.at(s, now)?.lease, leased, this.#leasing.leasePrefix, this.#c.partition, acks);
      // Some not there, or held, as this view has it: another handle may have pushed or released them since. A plan
      // that removes nothing commits nothing, so nothing else would find the view stale.
      if (live.length < seqs.length && (await this.view.changed())) throw STALE;
      return this.#leasing.acking(live, live.length);
    });
  }

  /**
   * Reads the storage again where another handle committed since, and puts right what that finds, changing nothing
   * else: a call spanning partitions checks each this way before it changes any, so that one it cannot read (or that
   * refuses, corrupt) stops it with nothing changed.
   */
  async ready(): Promise<void> {
    await this.view.refresh();
    await this.view.commit(() => ({ result: undefined }));
  }

  size(): Promise<number> {
    return this.#read(async () => this.view.size);
  }

  stats(): Promise<QueueStats> {
    return this.#read(async () => this.view.stats(this.#c.options.clock.now()));
  }

  /** Resolves how many items it removed, as counted under the lock where it committed. */
  clear(): Promise<number> {
    return this.view.commit(() => {
      const { next, segments, size } = this.view;
      // An empty one at `next` holds the floor already; else one is made (see `Segments.floorAfter`).
      const remove = segments.list.map((s) => s.id).filter((id) => id < next);
      const write = segments.floorAfter(remove, next);
      return { ops: [['a', [this.view.state.head, next]]], whole: true, batch: { remove, ...(write && { write }) }, result: size };
    });
  }

  /** Commits what waits to be pushed and ends this handle's holds (run inside the queue's serial). */
  async settle(): Promise<void> {
    await this.#pushes.flush();
    // On the view as it is, so that a close does not wait on a store that stopped answering to find it has nothing to
    // do; a view a failed commit forgot is read again all the same where this handle ever took (see `releaseOwn`).
    // Pushes record nothing in the metadata: said once here, a tail lost after a close is counted exactly, not guessed
    // from its bytes. Not on a view a failed commit forgot: the store is failing, and a close must not wait on it.
    const grown = this.view.unrecorded && !this.view.forgotten;
    let alone = false;
    const plan = () => {
      const release = this.#leasing.releaseOwn();
      alone = grown && release.ops === undefined;
      return { ...release, grown };
    };
    // That record alone is only what a lost tail would be counted from: a close does not fail for it (storage gone).
    // Nor for leases of a queue deleted under it ('ERR_NOT_FOUND') or of items lost ('ERR_CORRUPT', told already): they went.
    await this.view.commit(plan, false, undefined, true).catch((error: unknown) => {
      if (!alone && !['ERR_NOT_FOUND', 'ERR_CORRUPT'].includes((error as { code?: unknown } | null)?.code as string)) throw error;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#leasing.unknown.stop();
    this.#unwatch?.();
    await this.#storage.close();
  }

  /**
   * Reads through a fresh view, read again (and put right) when it turns out stale. The leases of owners gone are
   * ended first, as a take ends them: what is read shows what a take would get.
   */
  async #read<R>(fn: () => Promise<R>): Promise<R> {
    await this.view.refresh();
    return this.view.commit(async () => {
      const ops = await this.#leasing.freeGone();
      try {
        return { ops, result: await fn() };
      } catch (error) {
        if (ops.length > 0) this.view.invalidate();
        throw error;
      }
    }, true);
  }

  /**
   * Refuses a push or a take of a handle opened with another partition count than this partition records: another
   * handle changed the count since (see `settleCount`), and a push could land where no handle with the new count
   * looks, a take would miss partitions that handles with the new count push to. Run inside the commit's plan, so
   * it reads what the commit is made against. Nothing recorded (a queue of one partition) or a record lost with its
   * metadata (0) refuses nothing: the next open records the count again.
   */
  #counted(pushing = false): void {
    checkCount(this.view.state.partitions, this.#c.options.partitions, this.#c.queue, pushing, () => this.view.invalidate());
  }

  /** Ends the holds whose time is up; returns the time. */
  #expire(): number {
    const now = this.#c.options.clock.now();
    this.view.state.holds.expire(now);
    return now;
  }

  #decode(item: StoredItem): T {
    try {
      return decodeItem(this.#c.options.codec, item.bytes, item.start, item.end);
    } catch (error) {
      // Else one item a codec cannot read fails every take with an error naming nothing; `remove` needs its id.
      throw new SluiceError('ERR_CORRUPT', `Queue "${this.#c.queue}": its codec cannot decode item ${entryId(this.#c.partition, item.seq)}.`, { cause: error });
    }
  }

  /** Items `[from, to)` that `segment` should hold cannot be read (see `lost`). */
  readonly #lost = (segment: number, from: number, to: number): Promise<void> =>
    lost(this.view, { queue: this.#c.queue, partition: this.#c.partition, segment, from, to, corruption: this.#c.options.corruption }, {
      tell: (detail) => this.#c.corrupt(detail, false),
      ack: (seqs) => this.#leasing.acking(seqs, undefined),
      relist: this.#relist,
    });
}
