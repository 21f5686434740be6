import type { Clock } from './clock.js';
import { STALE, type CommitView, type Plan } from './commit-view.js';
import { entryOf } from './entry.js';
import type { Hold } from './holds.js';
import { leaseIds, parseIds, randomId } from './ids.js';
import { LEASE } from './options.js';
import { filterAnswer, leaseExpired, refused, sortLeased, type Leased } from './lease-checks.js';
import { CHECK, CHECK_ACK, IN_DOUBT, UNTAKE, type PartLease } from './part-lease.js';
import type { LeaseEntry, QueueEntry, TakeOptions } from './queue-types.js';
import { flat, type Op } from './queue-state.js';
import { toRanges } from './ranges.js';
import type { StoredItem } from './segments.js';
import type { QueueStorage } from './store.js';
import { check, duration, isBoolean, optionsObject } from './validate.js';
import { UnknownTakes } from './unknown-takes.js';
import { itemAt, nextReady, walk } from './walk.js';

/** What leasing needs of the queue it serves. */
export interface LeasingContext<T> {
  readonly view: CommitView;
  readonly storage: QueueStorage;
  readonly clock: Clock;
  readonly decode: (item: StoredItem) => T;
  /** Runs `fn` alone among the queue's operations, once the queue is known open. */
  readonly run: <R>(fn: () => Promise<R>) => Promise<R>;
  /** Items `[from, to)` of `segment` cannot be read: report, then throw or count them acked. */
  readonly lost: (segment: number, from: number, to: number) => Promise<void>;
  /** Something may have become available (released items). */
  readonly wake: () => void;
}

/**
 * Takes, acks, releases and expiry: who holds which items and until when. Each change is one op appended to the
 * queue's metadata, planned against the lease index, so its cost does not grow with the leases outstanding.
 */
export class Leasing<T> {
  readonly #c: LeasingContext<T>;
  /** What this handle's lease ids start with: random once per handle, then counted, so a take costs no trip to the CSPRNG. */
  readonly leasePrefix = `${randomId()}.`;
  #count = 0;
  /** The name leases carry when the store has none for this handle. */
  readonly #random = randomId();
  /**
   * Owners the store said are gone: they stay gone. Every store makes that so: a dead process or a closed tab never
   * comes back, and a Redis handle judged gone while alive goes on under a new owner (its leases under the old one
   * may be in other hands). Only those that held items at the last look: every dead handle's would pile up in a
   * handle that lives for days.
   */
  #gone = new Set<string>();
  /** Takes whose outcome is unknown (see `UNTAKE`): stopped when the handle closes. */
  readonly unknown: UnknownTakes;

  constructor(context: LeasingContext<T>) {
    this.#c = context;
    this.unknown = new UnknownTakes(context);
  }

  /** The name leases carry: a live process or tab the store can check (which the store may renew), or random. */
  get owner(): string {
    return this.#c.storage.owner ?? this.#random;
  }

  /** The plan of a take: up to `max` of the first entries that are ready (and that `filter` picks). */
  async take(max: number, leaseMs: number, options: TakeOptions<T>): Promise<Plan<PartLease<T> | undefined>> {
    const { view, clock } = this.#c;
    const now = clock.now();
    const ops = await this.freeGone();
    view.state.holds.expire(now);
    // Given back before this take chooses, so that it may take them (applied now, and recorded with its commit).
    const back = this.unknown.giveBack(view.state, now);
    for (const op of back) view.state.apply(op);
    // What a give-back frees, others may be waiting for.
    const extra = back.length > 0 ? { applied: back, done: this.#c.wake } : undefined;
    const chosen: LeaseEntry<T>[] = [];
    const { filter, ids, early } = options;
    const choose = (item: StoredItem) => chosen.push({ id: String(item.seq), value: this.#c.decode(item), attempts: view.state.attemptsOf(item.seq) + 1 });
    try {
      if (ids) {
        for (const seq of parseIds(ids)) {
          const held = view.state.holds.at(seq, now);
          if (held && !(held.lease === '' && (typeof early === 'function' ? early({ id: String(seq), availableAt: held.until }) : early))) continue;
          const item = await itemAt(view, seq);
          if (item) choose(item);
          if (chosen.length === max) break;
        }
      } else {
        walking: for await (const items of walk(view, now, !filter, this.#c.lost)) {
          for (const { item, held } of items) {
            // Without a filter the walk skips held items, so every item walked is ready: no entry to build.
            if (!filter) choose(item);
            else {
              const entry = this.entry(item, held);
              const wanted = filter(entry);
              if (wanted === 'stop') break walking;
              if (typeof wanted === 'object' && wanted !== null) filterAnswer(wanted);
              if (wanted && entry.state === 'ready') chosen.push({ id: entry.id, value: entry.value, attempts: entry.attempts + 1 });
            }
            if (chosen.length === max) break walking;
          }
        }
      }
      options.signal?.throwIfAborted();
    } catch (error) {
      if (ops.length > 0 || extra) view.invalidate();
      throw error;
    }
    if (chosen.length === 0) {
      // Nothing here: look once whether another handle pushed since this view was read.
      if (await view.changed()) throw STALE;
      return { ops, result: undefined, ...extra };
    }
    const lease = `${this.leasePrefix}${(this.#count++).toString(36)}`;
    const until = now + leaseMs;
    const owner = this.owner;
    ops.push(['t', lease, owner, until, flat(toRanges(chosen.map((e) => Number(e.id))))]);
    return { ops, result: this.#lease(lease, owner, until, leaseMs, chosen), ...extra };
  }

  /**
   * Reads the segment a take would start in, as this view sees it (other handles may have committed since), and the
   * one after it (others may have taken the rest meanwhile), those of them that are sealed. A segment is read whole
   * and checked the first time it is needed; a stale view plans under the store's lock, where that read would keep
   * every other process waiting. Sealed, its bytes no longer change; one acked away meanwhile reads short and is not
   * kept, and a failure is met again by the take.
   */
  async warm(): Promise<void> {
    const { segments, state } = this.#c.view;
    const first = segments.indexOf(nextReady(state, state.head));
    for (let index = Math.max(first, 0); index <= first + 1 && index < segments.list.length - 1; index++) {
      await segments.items(index).catch(() => undefined);
    }
  }

  /** An entry as `list` and filters see it; its value is decoded when read. */
  entry(item: StoredItem, held: Hold | undefined): QueueEntry<T> {
    return entryOf(item, held, this.#c.view.state.attemptsOf(item.seq), this.#c.decode);
  }

  /** The plan of an ack of `seqs`: removed for good, and their segments freed once wholly acked. */
  acking<R>(seqs: readonly number[], result: R): Plan<R> {
    const { view } = this.#c;
    const next = view.next;
    // Numbers not given out (or made void by a repair) hold nothing to ack.
    const live = seqs.filter((seq) => seq < next && !view.state.isAcked(seq));
    if (live.length === 0) return { result };
    const ranges = toRanges(live);
    const head = view.state.head;
    return {
      ops: [['a', flat(ranges)]],
      result,
      // Which segments empty is known once the ack is applied.
      batch: () => {
        const { remove, quarantine } = view.segments.freeable(view.state, ranges, head, view.next);
        const write = view.segments.floorAfter([...remove, ...quarantine], view.next);
        return { ...(remove.length > 0 && { remove }), ...(quarantine.length > 0 && { quarantine }), ...(write && { write }) };
      },
    };
  }

  /**
   * This handle's holds end (it closes): its leased items are available again at once. A view a failed commit forgot
   * may hide them (it holds that commit's ops): where this handle ever took, the op is committed all the same, which
   * the store refuses (the view is stale), and it is planned again on the view read again.
   */
  releaseOwn(): Plan<undefined> {
    const { view } = this.#c;
    const mine = [...view.state.holds.owners()].includes(this.owner) || (view.forgotten && this.#count > 0);
    return mine ? { ops: [['o', this.owner]], result: undefined } : { result: undefined };
  }

  #lease(lease: string, owner: string, until: number, leaseMs: number, entries: LeaseEntry<T>[]): PartLease<T> {
    const rewinds = this.#c.view.rewinds;
    // What it holds, whatever becomes of the array handed out: emptied as one works (`shift()`), an ack of all acked none.
    const taken = entries.slice();
    // The set of the lease's ids is made only for an ack or release that names some: most name none.
    let own: Set<string> | undefined;
    // Given back by this lease: "all of the lease" no longer names them (an ack of the rest must not remove them), and
    // a release no longer does (it would count an untried one's attempt off twice); those given back untried count
    // an attempt less than the lease gave them.
    let released: Set<number> | undefined;
    let untriedBack: Set<number> | undefined;
    let given: Map<number, number> | undefined;
    const pick = (ids: readonly string[] | undefined): number[] => {
      if (ids === undefined) return taken.map((e) => Number(e.id)).filter((seq) => !released?.has(seq));
      own ??= new Set(taken.map((e) => e.id));
      return [...new Set(leaseIds(ids, own))].map(Number).sort((a, b) => a - b);
    };
    const sort = (seqs: readonly number[]): Leased => {
      const { view } = this.#c;
      const expected = (seq: number) => {
        given ??= new Map(taken.map((e) => [Number(e.id), e.attempts]));
        return (given.get(seq) ?? 0) - (untriedBack?.has(seq) ? 1 : 0);
      };
      return sortLeased(view.state, lease, seqs, expected, view.rewinds !== rewinds, this.#c.clock.now());
    };
    let expiresAt = until;
    // An extension holds the items under the handle's owner as it is then (see `#extend`).
    let holder = owner;
    const ack = (ids: readonly string[] | undefined) =>
      this.#unlessRefused(sort(pick(ids)), 'acked', ({ ours, since }) => this.acking(since.length === 0 ? ours : [...ours, ...since].sort((a, b) => a - b), undefined));
    return {
      entries,
      get expiresAt() {
        return expiresAt;
      },
      extend: (ms = leaseMs) =>
        this.#c.run(async () => {
          check({ leaseMs: ms }, { leaseMs: LEASE });
          const end = await this.#c.view.commit(() => this.#unlessRefused(sort(pick(undefined)), 'extended', ({ ours }) => this.#extend(lease, ours, ms)));
          // Nothing left to hold (all acked, released or taken since): the lease ends when it did.
          if (end !== undefined) [expiresAt, holder] = [end, this.owner];
        }),
      ack: (ids) => this.#c.run(() => this.#c.view.commit(() => ack(ids))),
      [CHECK_ACK]: (ids) => this.#check(() => ack(ids)),
      [CHECK]: () => this.#check(() => undefined),
      // A give-back that fails too is made again in the background (see `UnknownTakes.later`).
      [UNTAKE]: () => (this.unknown.add(lease, until), this.#c.view.commit(() => this.#unlessRefused(sort(pick(undefined)), undefined, ({ ours }) => this.#release(ours, 0, true))).catch((error: unknown) => (this.unknown.later(), Promise.reject(error)))),
      // A store that never doubts its leases (see `QueueStorage.leasesInDoubt`) is asked nothing.
      [IN_DOUBT]: this.#c.storage.leasesInDoubt ? () => this.#c.storage.leasesInDoubt!(holder) : () => false,
      release: (ids, options) =>
        this.#c.run(async () => {
          const { delayMs = 0, untried = false } = optionsObject(options, 'options', ['delayMs', 'untried']);
          check({ delayMs, untried }, { delayMs: duration(0), untried: isBoolean });
          const seqs = pick(ids).filter((seq) => !released?.has(seq));
          await this.#c.view.commit(() => this.#unlessRefused(sort(seqs), undefined, ({ ours }) => this.#release(ours, delayMs, untried)));
          released ??= new Set();
          for (const seq of seqs) released.add(seq);
          if (untried) for (const seq of seqs) (untriedBack ??= new Set()).add(seq);
        }),
    };
  }

  /**
   * Runs `plan` on the view read again (another handle may have taken an item since), never committing it: a plan that
   * changes nothing commits nothing (a repair the reload calls for is committed first).
   */
  #check(plan: () => unknown): Promise<void> {
    return this.#c.run(async () => {
      await this.#c.view.refresh();
      await this.#c.view.commit(async () => (await plan(), { result: undefined }));
    });
  }

  /**
   * `plan(leased)`, unless `leased` names items the lease may no longer act on: then, once the view is known current,
   * 'ERR_LEASE_EXPIRED' (nothing `done`), or, without `done` (a release), `plan` all the same, which passes over them.
   * Judged on a stale view (another handle released or acked them since), the call is planned again on the view read
   * again. Synchronous when not refused (an ack is on every drain's path).
   */
  #unlessRefused<R>(leased: Leased, done: string | undefined, plan: (leased: Leased) => Plan<R>): Plan<R> | Promise<Plan<R>> {
    if (!refused(leased)) return plan(leased);
    return this.#c.view.changed().then((changed) => {
      if (changed) throw STALE;
      if (done === undefined) return plan(leased);
      throw leaseExpired(leased, done);
    });
  }

  /**
   * The lease's items still its own are held for `leaseMs` from now, under the same lease, by this handle's owner as it
   * is now (one that went on under a new owner keeps them alive); no attempt is counted. Resolves the new end.
   */
  #extend(lease: string, ours: number[], leaseMs: number): Plan<number | undefined> {
    const until = this.#c.clock.now() + leaseMs;
    return ours.length === 0 ? { result: undefined } : { ops: [['t', lease, this.owner, until, flat(toRanges(ours)), 0]], result: until };
  }

  /** A release gives back `ours`, the items still the lease's (see `sortLeased`). */
  #release(ours: readonly number[], delayMs: number, untried: boolean): Plan<undefined> {
    if (ours.length === 0) return { result: undefined };
    const ranges = flat(toRanges(ours));
    const until = delayMs > 0 ? this.#c.clock.now() + delayMs : undefined;
    const op: Op = untried ? ['u', ranges, until ?? null, 1] : until !== undefined ? ['u', ranges, until] : ['u', ranges];
    return { ops: [op], result: undefined, done: this.#c.wake };
  }

  /**
   * Ends the holds of owners that the store says are gone (their leases come back before they expire): applied now,
   * so that what is planned next sees those items free; the ops returned are for the plan to commit (applied again,
   * which changes nothing). A plan that ends without committing must leave the view to be read again.
   */
  async freeGone(): Promise<Op[]> {
    const ops = (await this.#goneOwners()).map((owner): Op => ['o', owner]);
    for (const op of ops) this.#c.view.state.apply(op);
    return ops;
  }

  /** Owners of holds that the store says are gone (their leases come back before they expire). */
  async #goneOwners(): Promise<string[]> {
    const { storage, view } = this.#c;
    if (!storage.isGone) return [];
    const out: string[] = [];
    for (const owner of view.state.holds.owners()) {
      if (owner === this.owner) continue;
      if (this.#gone.has(owner) || (await storage.isGone(owner))) out.push(owner);
    }
    this.#gone = new Set(out);
    return out;
  }
}
