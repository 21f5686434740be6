import { Candidates } from './candidates.js';
import { addKeyed, addTo, deleteFrom, type ByName } from './by-name.js';
import { byPlace, byTurn, LEASE_RECHECK_MS, pendingOf, type Ordering, type Pending, type WaitCause } from './pending-task.js';
import { Expiries } from './expiries.js';
import { Gone } from './gone.js';
import { SetAside } from './host-holds.js';
import { Lanes, type Lane } from './lanes.js';
import type { StoredTask } from './task.js';
import { Waits } from './waits.js';

export { laneOf, type Ordering, type Pending, type WaitCause } from './pending-task.js';

/**
 * The outbox's pending tasks, indexed for scheduling: by lane (in queue order), by coalescing key, by task id, with
 * a heap of the tasks (or, with ordering, the lane heads) that may go now by priority and queue order, and a heap
 * of waiting tasks by the time their wait ends. Choosing the next tasks costs O(tasks chosen); nothing on the hot
 * path looks at every task. Built from the queue on open, kept by the outbox as tasks come, go and change state.
 */
export class PendingIndex {
  readonly #tasks = new Map<number, Pending>();
  /** Task ids are the user's (an Idempotency-Key), and several pending tasks may share one. */
  readonly #byId: ByName = new Map();
  readonly #byKey: ByName = new Map();
  readonly #lanes = new Lanes(this.#tasks);
  /** Candidates: ready tasks without ordering, ready lane heads with it; stale entries are skipped when popped. */
  readonly #runnable: Candidates;
  readonly #waits = new Waits(this.#tasks);
  readonly #expiries = new Expiries(this.#tasks);
  readonly #aside = new SetAside();
  /** Tasks sent by keepalive as the page hid, whose requests may be out yet: delivery waits for them (see `UnloadSender`). */
  readonly keptAlive = new Map<Pending, object>();
  /** Tasks found gone from the store by another handle's doing, whose word on them may come after (see `relearn`). */
  readonly gone = new Gone();
  #bytes = 0;
  /** The latest time `take` was asked about: a wait that ended by then is no wait. */
  #now = 0;

  constructor(readonly ordering: Ordering, readonly partitions = 1) {
    this.#runnable = new Candidates(this.#tasks, partitions > 1 ? byTurn : byPlace);
  }

  get size(): number {
    return this.#tasks.size;
  }

  /** Stored bytes of the pending tasks, as `limits.maxBytes` counts them. */
  get bytes(): number {
    return this.#bytes;
  }

  get(seq: number): Pending | undefined {
    return this.#tasks.get(seq);
  }

  /** Pending tasks with task id `id`, in queue order. */
  withId(id: string): readonly Pending[] {
    return [...(this.#byId.get(id) ?? [])];
  }

  /** Pending tasks in queue order. */
  values(): IterableIterator<Pending> {
    return this.#tasks.values();
  }

  /** True while `lane` holds pending tasks (in flight included): a request of that lane must wait behind them. */
  holds(lane: string | undefined): boolean {
    return lane !== undefined && this.#lanes.has(lane);
  }

  /** Whether `pending` is the first task still pending of its lane: with ordering, no older one of it waits. */
  leads(pending: Pending): boolean {
    return pending.lane === undefined || (this.#lanes.has(pending.lane) && this.#lanes.headOf(pending.lane) === pending);
  }

  /** Pending tasks with coalescing key `key`. */
  withKey(key: string): readonly Pending[] {
    return [...(this.#byKey.get(key) ?? [])];
  }

  /** Adds a task stored as entry `seq` (mostly in queue order, see `Lanes.add`), ready or waiting until `until`. */
  add(seq: number, task: StoredTask, attempts: number, until = 0, cause: WaitCause = 'server'): Pending {
    const known = this.#tasks.get(seq);
    if (known) return known;
    const pending = pendingOf(seq, task, attempts, this.ordering);
    this.#tasks.set(seq, pending);
    addTo(this.#byId, pending.id, pending);
    this.#bytes += pending.bytes;
    if (pending.key !== undefined) addKeyed(this.#byKey, pending, task.retriedFrom !== undefined);
    if (pending.lane !== undefined) this.#lanes.add(pending.lane, seq);
    this.#expiries.add(pending);
    this.wait(pending, until, cause);
    return pending;
  }

  /** Forgets a task: sent, dead, or found gone from the queue. */
  remove(pending: Pending): void {
    if (this.#tasks.get(pending.seq) !== pending) return;
    this.#tasks.delete(pending.seq);
    deleteFrom(this.#byId, pending.id, pending);
    this.#bytes -= pending.bytes;
    if (pending.key !== undefined) deleteFrom(this.#byKey, pending.key, pending);
    this.#expiries.remove(pending);
    this.#aside.delete(pending);
    this.#set(pending, 'busy');
    if (pending.lane !== undefined) this.#offerLane(pending.lane);
    this.#runnable.sweepStale();
    this.#waits.sweepStale();
  }

  /** Taken by this handle. */
  busy(pending: Pending): void {
    this.#set(pending, 'busy');
  }

  /** May go now. */
  ready(pending: Pending): void {
    this.wait(pending, 0, undefined);
  }

  /**
   * May go once `until` has passed (at once when it has); its own `notBefore` is kept. Another handle's lease is looked
   * at again within `LEASE_RECHECK_MS` of the latest take (at once by a handle that has taken nothing yet, which is how
   * a tab or worker that opens or starts delivering finds a closed tab's tasks): its holder may be gone, and is freed.
   * This handle's own lease (`own`: tasks held for their ack made again, see `holdUntilExpiry`) is waited out: taken
   * again here meanwhile, they were no longer the ack's to say 'sent' of once it landed, and nobody said it.
   */
  wait(pending: Pending, until: number, cause: WaitCause | undefined, own = false): void {
    if (this.#tasks.get(pending.seq) !== pending) return;
    if (cause === 'lease') {
      if (!own) until = Math.min(until, this.#now + LEASE_RECHECK_MS);
      pending.heldAway = true;
    }
    // A wall clock stepped back moves `until` back, never the delay stored: the latest known end is kept.
    if (cause === 'server' || cause === 'network') pending.storedUntil = Math.max(pending.storedUntil, until);
    // Its schedule: sendable from `notBefore`, or, expired before that, from `expiresAt` (to go to dead). A wait of
    // this handle's own (a retry delay, a Retry-After) ends at `expiresAt` too, unless set after it (a burial that
    // failed waits its delay out, not again at once); another handle's lease is its holder's.
    const scheduled = Math.min(pending.notBefore, pending.expiresAt);
    const expires = cause !== 'lease' && pending.expiresAt > this.#now;
    const end = expires ? Math.min(Math.max(until, scheduled), pending.expiresAt) : Math.max(until, scheduled);
    pending.until = end;
    const waits = end > this.#now;
    this.#set(pending, waits ? 'waiting' : 'ready', scheduled >= until ? 'schedule' : cause);
    if (waits) this.#waits.push(pending, end);
    this.#offer(pending);
  }

  /** Tried in this flush: not offered again until `unpark`. */
  park(pending: Pending): void {
    if (this.#tasks.get(pending.seq) === pending) this.#set(pending, 'parked', pending.cause);
  }

  /** Parked tasks may go again (their own waits kept). */
  unpark(tasks: Iterable<Pending>): void {
    for (const pending of tasks) if (pending.state === 'parked') this.wait(pending, pending.until, pending.cause);
  }

  /**
   * The wall clock stepped back by `-delta` ms (NTP, a user): waits that are durations (a retry's delay, whatever its
   * cause) are moved back with it, so each ends as long from now as it was going to; deadlines that are wall times
   * (`notBefore`, `expiresAt`, another handle's lease) stay, and a task found ready on the time before the step that
   * is scheduled after the time now waits again. Rare, so it may look at every task.
   */
  stepBack(delta: number): void {
    this.#now += delta;
    for (const pending of this.#tasks.values()) {
      if (pending.state === 'ready' && Math.min(pending.notBefore, pending.expiresAt) > this.#now) this.wait(pending, 0, undefined);
      if (pending.cause !== 'network' && pending.cause !== 'server') continue;
      if (pending.state === 'waiting') this.wait(pending, pending.until + delta, pending.cause);
      else if (pending.state === 'parked') pending.until += delta;
    }
  }

  /** The tasks waiting because the network failed them (a success just showed it is there). */
  waitingForNetwork(origin?: string): Pending[] {
    return this.#waits.forNetwork(origin);
  }

  /** The tasks waiting because another handle leased them (the handle that delivered may just have gone). */
  waitingForLease(): Pending[] {
    return this.#waits.forLease();
  }

  /**
   * Up to `max` tasks that may go at `now`, higher priority first, then in queue order; with ordering, only a
   * lane's first pending task (or, `perLane(head)` > 1, its first consecutive ready ones) may go, of those `accept`
   * accepts (the others stay candidates). They are marked busy. Those of an origin `held` holds are set aside till it does not.
   */
  take(max: number, now: number, perLane: (head: Pending) => number = () => 1, accept?: (p: Pending) => boolean, held?: (origin: string) => boolean): Pending[] {
    this.#now = Math.max(this.#now, now);
    this.#wakeUp(now);
    for (const pending of this.#aside.released(held)) this.#offer(pending);
    const out: Pending[] = [];
    const passed: Pending[] = [];
    while (out.length < max) {
      const top = this.#runnable.pop();
      if (!top) break;
      if (top.state !== 'ready' || this.#tasks.get(top.seq) !== top) continue;
      if ((held?.(top.origin) && this.#aside.add(top)) || (accept && !accept(top) && passed.push(top))) continue;
      if (top.lane === undefined) {
        this.#set(top, 'busy');
        out.push(top);
        continue;
      }
      const lane = this.#lanes.get(top.lane)!;
      if (this.#lanes.head(lane) === top) this.#takeRun(lane, lane.at, Math.min(perLane(top), max - out.length), out);
    }
    for (const p of passed) this.#runnable.push(p);
    return out;
  }

  /**
   * With ordering: up to `perLane(first)` consecutive ready tasks of lane `name` right behind its unit in flight (busy),
   * marked busy: taken ahead, to go once that unit is done. None when another candidate would be taken first.
   */
  takeAhead(name: string, now: number, perLane: (first: Pending) => number): Pending[] {
    this.#now = Math.max(this.#now, now);
    this.#wakeUp(now);
    const lane = this.#lanes.get(name);
    if (!lane) return [];
    let at = lane.at;
    // Past the unit in flight (busy), and what left the index meanwhile.
    while (at < lane.seqs.length && (this.#tasks.get(lane.seqs[at]!)?.state ?? 'busy') === 'busy') at++;
    const first = this.#tasks.get(lane.seqs[at]!);
    if (!first || first.state !== 'ready' || this.outranked(first)) return [];
    const out: Pending[] = [];
    this.#takeRun(lane, at, perLane(first), out);
    return out;
  }

  /** True when a ready task or lane head (its wait over by `now` too) goes before `pending`: by priority, then queue order (`priorityOnly`: by priority). */
  outranked(pending: Pending, priorityOnly = false, now = this.#now): boolean {
    this.#wakeUp(now);
    for (let top = this.#runnable.peek(); top; top = this.#runnable.peek()) {
      const live = top.state === 'ready' && this.#tasks.get(top.seq) === top && (top.lane === undefined || this.#lanes.head(this.#lanes.get(top.lane)!) === top);
      if (live) return top !== pending && (priorityOnly ? top.rank < pending.rank : this.#runnable.turn(top, pending) < 0);
      this.#runnable.pop();
    }
    return false;
  }

  /** Marks busy, into `out`, up to `most` consecutive ready tasks of `lane` from its place `at`. */
  #takeRun(lane: Lane, at: number, most: number, out: Pending[]): void {
    for (let i = at, n = 0; i < lane.seqs.length && n < most; i++) {
      const next = this.#tasks.get(lane.seqs[i]!);
      if (!next) continue;
      if (next.state !== 'ready') break;
      this.#set(next, 'busy');
      out.push(next);
      n++;
    }
  }

  /** When the earliest wait ends, or undefined when nothing waits. */
  nextWake(): number | undefined {
    return this.#waits.next();
  }

  /** Tasks expired by `now` wherever they stand (behind a lane's head too), not in flight nor held: marked busy. */
  expired(now: number): Pending[] {
    this.#now = Math.max(this.#now, now);
    const out = this.#expiries.take(now);
    for (const pending of out) this.#set(pending, 'busy');
    return out;
  }

  /** When the next task expires that `expired` would give (a time past: one did), or undefined; cheap on every fill. */
  nextExpiry(): number | undefined {
    return this.#expiries.next();
  }

  #set(pending: Pending, state: Pending['state'], cause?: WaitCause): void {
    pending.state = state;
    pending.cause = state === 'waiting' || state === 'parked' ? cause : undefined;
    this.#waits.file(pending);
  }

  /** Moves tasks whose wait has ended to ready. */
  #wakeUp(now: number): void {
    for (let task = this.#waits.ended(now); task; task = this.#waits.ended(now)) {
      this.#set(task, 'ready');
      this.#offer(task);
    }
  }

  /** Puts a ready task (or its lane, when it heads it) among the candidates. */
  #offer(pending: Pending): void {
    if (pending.state !== 'ready') return;
    if (pending.lane === undefined) this.#runnable.push(pending);
    else this.#offerLane(pending.lane);
  }

  #offerLane(name: string): void {
    const head = this.#lanes.headOf(name);
    if (head?.state === 'ready') this.#runnable.push(head);
  }
}
