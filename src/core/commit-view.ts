import type { Clock } from './clock.js';
import { storageError } from './storage-errors.js';
import type { QueueStats } from './queue-types.js';
import { QueueState, type Op } from './queue-state.js';
import { MOVED, Segments, type TailDamage } from './segments.js';
import type { Durability, HeldStorage, QueueStorage, StorageBatch } from './store.js';
import { ViewReader, type MetaTrouble } from './view-reader.js';

/** How often a wait for items looks again while another handle, which may have died, holds leases (see `wakeAfter`). */
const GONE_RECHECK_MS = 1000;

type Batch = Pick<StorageBatch, 'write' | 'remove' | 'quarantine'>;

/** One commit as planned against the current view. */
export interface Plan<R> {
  /** Changes to the state, appended to the metadata (or written whole with it). */
  readonly ops?: readonly Op[];
  /** Changes applied to the state already as the plan was made, recorded before `ops` (not applied again). */
  readonly applied?: readonly Op[];
  /** Write the whole state rather than append `ops`. */
  readonly whole?: boolean;
  /** What to write or remove; a function is called once the ops are applied (what an ack frees depends on it). */
  readonly batch?: Batch | (() => Batch);
  readonly result: R;
  /** Runs once the store accepted the commit. */
  readonly done?: () => void;
  /** Record how far the queue grew (see `QueueState.grown`) even with no ops: pushes record nothing of their own. */
  readonly grown?: boolean;
}

/** A plan as made: a repair's (then the caller's plan follows it), or the caller's. */
interface Planned<R> {
  readonly planned: Plan<R | undefined>;
  readonly repairing: boolean;
}

/** True when `plan` changes nothing: nothing to commit. */
function idle(plan: Plan<unknown>): boolean {
  return (plan.ops?.length ?? 0) + (plan.applied?.length ?? 0) === 0 && !plan.whole && !plan.batch && !plan.grown;
}

/** Thrown inside a plan when what the view says is no longer in the store: reload and plan again. */
export const STALE = Symbol('stale');

/**
 * One handle's view of its queue's storage, and the only way it changes: a plan is made against the view, its ops
 * applied, then committed as a compare-and-write; when another handle committed first, the view is read again and
 * the plan made again. A failed commit leaves the view marked stale, so the next operation reads the store first.
 */
export class CommitView {
  state = new QueueState();
  readonly segments: Segments;
  /** Damage past the tail's last complete unit, found by the last reload and not yet cut. */
  damage: TailDamage | undefined;
  /** What the last reload found wrong with the metadata, until the state is written whole again. */
  trouble: MetaTrouble;
  /** Bytes of the newest segment the store recorded and no longer holds (removed or cut under the queue). */
  missing: { readonly segment: number; readonly bytes: number } | undefined;
  /** Ids this view knew unacked when the store said it was deleted under the queue (`remade`), until reported. */
  gone: readonly string[] | undefined;
  readonly #storage: QueueStorage;
  /** How far the view was read (or written): the store's token, the metadata log's place, the high water. */
  readonly #reader: ViewReader;
  readonly #name: string;
  readonly #durability: Durability;
  readonly #clock: Clock;
  readonly #repair: () => Plan<undefined> | undefined;
  /** The storage as `QueueStorage.exclusive` hands it over, while a commit holds the store's lock. */
  #held: HeldStorage | undefined;
  /** Commits this view lost to another handle (and made again on a fresh view). */
  conflicts = 0;
  /** Reads of the store: a plan that finds it moved on knows the view took in another handle's commit meanwhile. */
  loads = 0;
  /** Loads that found the storage gone back, or deleted and made again: a lease taken before one may name other items. */
  rewinds = 0;
  /** This handle pushed since it last recorded how far the queue grew (see `Plan.grown`). */
  unrecorded = false;

  constructor(
    storage: QueueStorage,
    options: { readonly name: string; readonly durability: Durability; readonly maxItemBytes: number; readonly clock: Clock },
    repair: () => Plan<undefined> | undefined,
  ) {
    this.#storage = storage;
    this.#name = options.name;
    this.#durability = options.durability;
    this.#clock = options.clock;
    this.#repair = repair;
    this.segments = new Segments(storage, options.maxItemBytes);
    this.#reader = new ViewReader(this, options.name, options.clock);
  }

  /**
   * The sequence number the next pushed item gets: past the tail's last item and past numbers a repair made void
   * (acked right after the tail), so that no number is ever given out twice.
   */
  get next(): number {
    const { state } = this;
    return Math.max(state.head, state.acked.endOf(this.segments.end));
  }

  /** The highest `next` this view has seen: the queue never shrinks below it but by loss. */
  get highWater(): number {
    return this.#reader.highWater;
  }

  /** Items pushed and not yet acked. */
  get size(): number {
    const { state } = this;
    const next = this.next;
    return next - state.head - state.acked.count(state.head, next);
  }

  /**
   * When a wait for items looks again, after `now`: when the earliest hold still holding ends (Infinity: none; holds
   * whose time is up are ended), or within `GONE_RECHECK_MS` while another handle holds leases on a store that can
   * tell a handle gone (`isGone`) but tells no watcher of it (`tellsGone`): one that dies commits nothing that would
   * wake the wait, and a take frees its leases.
   */
  wakeAfter(now: number): number {
    const { holds } = this.state;
    // One that ended since the take read its clock: ended here now, it would wake nothing, so look again at once.
    if (holds.nextEnd() <= now) return now;
    const { isGone, owner, tellsGone } = this.#storage;
    if (isGone && !tellsGone) for (const other of holds.owners()) if (other !== owner) return Math.min(holds.nextEnd(), now + GONE_RECHECK_MS);
    return holds.nextEnd();
  }

  /** What `Queue.stats` reports, as of `now`. */
  stats(now: number): QueueStats {
    let leased = 0;
    let delayed = 0;
    for (const hold of this.state.holds.all()) {
      if (hold.until <= now) continue;
      if (hold.lease) leased += hold.size;
      else delayed += hold.size;
    }
    // An empty segment holds no item, only the queue's floor (see `Segments.floorAfter`): not counted.
    const list = this.segments.list.filter((s) => s.length > 0);
    return { size: this.size, leased, delayed, segments: list.length, bytes: list.reduce((sum, s) => sum + s.length, 0) };
  }

  /**
   * Plans against the current view and commits; when another handle committed first, reloads and plans again.
   * The plan's ops are applied to the state before the commit (the metadata written may be that state whole); a
   * commit that does not happen leaves the view to be read again, whole. On a store that has a lock to hold
   * (`QueueStorage.exclusive`), the commit is made under it, and a plan found made on a stale view is made again
   * there after a reload, so it never loses: under contention most plans made on stale views would. `warm` reads,
   * before that lock is taken, what the plan is likely to read that no commit changes (see `Leasing.warm`). `asIs`
   * plans on a forgotten view without reading it again first.
   */
  commit<R>(plan: () => Plan<R> | Promise<Plan<R>>, reading = false, warm?: () => Promise<void>, asIs = false): Promise<R> {
    const storage = this.#storage;
    // Not itself async: every promise between a push and its commit is a turn of the event loop, in every push.
    // A commit made inside a plan (one that finds items lost, say) runs under the lock its plan holds.
    if (this.#held) return this.#commit(this.#held, plan);
    // A plan that only reads (a peek, a list) takes no lock, however long it walks; the rare commit it makes after
    // all (a repair) is a compare-and-write as any.
    if (!storage.exclusive || reading) {
      // A view forgotten (a commit failed) may hold what the store never took: an ack planned on it would find the
      // items acked already and resolve without committing. It is read again first, unless `asIs` (a close, which
      // must not wait on a store that stopped answering to find it has nothing to do).
      return this.#reader.token || asIs ? this.#commit(storage, plan) : this.#reader.load(storage).then(() => this.#commit(storage, plan));
    }
    return this.#exclusive(storage as QueueStorage & Pick<Required<QueueStorage>, 'exclusive'>, plan, warm);
  }

  async #exclusive<R>(
    storage: QueueStorage & Pick<Required<QueueStorage>, 'exclusive'>,
    plan: () => Plan<R> | Promise<Plan<R>>,
    warm: (() => Promise<void>) | undefined,
  ): Promise<R> {
    // A current view is planned on first, without the lock: a plan that changes nothing (a take that finds nothing,
    // a close) then takes none. A stale one is read again and planned on under the lock.
    let first: Planned<R> | undefined;
    if (!(await this.#stale())) {
      first = await this.#plan(storage, plan);
      if (!first.repairing && idle(first.planned)) return first.planned.result as R;
    } else await warm?.();
    return storage.exclusive(async (held) => {
      this.#held = held;
      try {
        if (await this.#stale()) {
          await this.#reader.load(held);
          first = undefined;
        }
        return await this.#commit(held, plan, first);
      } finally {
        this.#held = undefined;
      }
    });
  }

  /**
   * The next plan: a repair of what a reload found wrong, first; a plan that finds its view stale is made again after
   * a reload. Made at once when `plan` is synchronous (a push's is): no turn of the event loop for it.
   */
  #plan<R>(storage: HeldStorage, plan: () => Plan<R> | Promise<Plan<R>>): Planned<R> | Promise<Planned<R>> {
    const again = (error: unknown): Promise<Planned<R>> => {
      if (error !== STALE) throw error;
      return this.#reader.load(storage).then(() => this.#plan(storage, plan));
    };
    let planned: Plan<R> | Promise<Plan<R>>;
    try {
      const repair = this.#repair();
      if (repair) return { planned: repair, repairing: true };
      planned = plan();
    } catch (error) {
      return again(error);
    }
    return planned instanceof Promise ? planned.then((p) => ({ planned: p, repairing: false }), again) : { planned, repairing: false };
  }

  async #commit<R>(storage: HeldStorage, plan: () => Plan<R> | Promise<Plan<R>>, first?: Planned<R>): Promise<R> {
    for (;;) {
      const next = first ?? this.#plan(storage, plan);
      const { planned, repairing } = next instanceof Promise ? await next : next;
      first = undefined;
      const { ops = [], applied = [], whole = false, result, done } = planned;
      if (idle(planned)) {
        // A repair with nothing to store (only a loss to tell) is done as it is.
        if (!repairing) return result as R;
        done?.();
        continue;
      }
      for (const op of ops) this.state.apply(op);
      const batch = typeof planned.batch === 'function' ? planned.batch() : planned.batch;
      // Every record says how far the queue had grown, so a reader can tell numbers that went missing under it.
      // And where the tail ended then (as before this commit's write), so that a tail lost later is counted from there.
      const tail = this.segments.tail;
      const grown: Op = tail ? ['n', this.next, tail.id, tail.end] : ['n', this.next];
      this.state.apply(grown);
      const recorded: Op[] = ops.length + applied.length > 0 || planned.grown ? [grown, ...applied, ...ops] : [];
      // A queue's first commit writes its state too, so that a queue with segments and no metadata is known to
      // have lost it (and is reported), never taken for a new one.
      const reader = this.#reader;
      const meta = recorded.length > 0 || whole || !reader.log.started ? reader.log.write(recorded, this.state, whole, this.#clock.now(), this.next) : {};
      let token: string | undefined;
      try {
        token = await storage.commit(reader.token, { ...batch, ...meta, durability: this.#durability });
      } catch (error) {
        // What a failed commit left behind is unknown: read the store again before the next operation plans.
        this.invalidate();
        throw storageError(error, `The store failed to commit to queue "${this.#name}".`);
      }
      if (token === undefined) {
        this.conflicts++;
        this.invalidate();
        await reader.load(storage);
        continue;
      }
      reader.token = token;
      reader.log.wrote(meta);
      this.unrecorded = meta.meta || recorded.length > 0 ? false : this.unrecorded || batch?.write !== undefined;
      if (batch?.write) this.segments.appended(batch.write.segment, batch.write.offset, batch.write.bytes);
      reader.highWater = Math.max(reader.highWater, this.next);
      if (batch?.remove || batch?.quarantine) {
        const dropped = new Set([...(batch.remove ?? []), ...(batch.quarantine ?? [])]);
        if ((await this.segments.refresh(this.segments.list.filter((s) => !dropped.has(s.id)))) === MOVED) this.invalidate();
      }
      done?.();
      if (!repairing) return result as R;
    }
  }

  /** True when a failed commit (or read) made the view to be read again, whole (see `invalidate`). */
  get forgotten(): boolean {
    return !this.#reader.token;
  }

  /** Reads the store again: the metadata's new records (or all of it), and the segments' listing and tail. */
  reload(): Promise<void> {
    return this.#reader.load(this.#storage);
  }

  /**
   * Forgets the view: the state may hold ops the store never took, so the next operation reads the store whole
   * (not only what was appended since).
   */
  invalidate(): void {
    this.#reader.forget();
  }

  /** Reloads when another handle committed since this view was read. */
  async refresh(): Promise<void> {
    if (await this.#stale()) await this.reload();
  }

  /** True when this view is to be read (again): never read, forgotten, or another handle committed since. */
  async #stale(): Promise<boolean> {
    return !this.#reader.token || (await this.#storage.token()) !== this.#reader.token;
  }

  /** True when another handle committed since this view was read. */
  async changed(): Promise<boolean> {
    return (await this.#storage.token()) !== this.#reader.token;
  }
}
