import { AckBatcher } from './ack-batcher.js';
import { BatchFit } from './batch-fit.js';
import { ExpirySweep } from './bury-expired.js';
import { hostHeld } from './host-holds.js';
import { corsChecks } from './cors.js';
import { deliver, outlasts, type DeliveryContext, type DeliveryRun, type Entry } from './delivery.js';
import { ack } from './voided-acks.js';
import { chainsLanes, giveBack, leaseUnits, type LeaseContext } from './lease-units.js';
import { laneOf, type Pending } from './pending.js';
import type { DispatcherContext } from './dispatcher-context.js';
import { probeOrder, SuspectSlots } from './suspect-slots.js';
import { pickOut, TakeAhead, unheld, type Buffered } from './take-ahead.js';

/**
 * How many tasks of a lane are taken at once, sent one after another (a chain); without ordering, how many units
 * are kept taken ahead per slot (a batch, many tasks already: one). Either way one take's commit serves many
 * requests; a chain acks as it goes and stops early for a task of a higher priority.
 */
const CHAIN = 32;
const PREFETCH = 4;

/**
 * Starts requests within `concurrency`: it chooses tasks on the pending index, takes exactly those from the queue,
 * and hands each unit to `deliver` (acks go in groups). Without ordering it takes a few more than the free slots
 * and keeps them leased in a buffer, so that a slot freed by a response starts the next task without waiting for
 * a storage commit; with ordering it takes a lane's next tasks together, sent one after another as a chain, and
 * takes the chain behind it while it is in flight (`TakeAhead`).
 */
export class Dispatcher {
  readonly #c: DispatcherContext;
  /** Requests in flight: what `concurrency` bounds. A slot frees when the response is in. */
  readonly #active = new Set<Promise<void>>();
  /** Deliveries not yet settled (acked, delayed or dead); a superset of `#active`. */
  readonly #settling = new Set<Promise<void>>();
  readonly #buffer: Buffered[] = [];
  readonly #suspects: SuspectSlots;
  /** Delivered tasks are removed by id, many per commit: the response is in, whichever lease of this handle holds them now. */
  readonly #acks: AckBatcher;
  /** A stop waits for what is in flight: acks are held for no more to join them (on a test's clock, for ever). */
  #stopping = false;
  readonly #ahead: TakeAhead;
  readonly sweep: ExpirySweep;
  /** Bumped whenever a slot frees or a delivery settles; `changed` waits for the next bump. Read-only outside. */
  changes = 0;
  #waiters: (() => void)[] = [];
  readonly #onChange: () => void;
  readonly #delivery: DeliveryContext & LeaseContext & Pick<DispatcherContext, 'running'>;

  constructor(context: DispatcherContext, onChange: () => void) {
    this.#c = context;
    this.#onChange = onChange;
    this.#suspects = new SuspectSlots(context.reachability, context.options);
    const report = (error: unknown): void => context.emit('error', { error });
    this.#acks = new AckBatcher((ids, leases) => ack(context.queue, ids, leases), {
      clock: context.options.clock,
      busy: () => this.#active.size > 0 && !this.#stopping,
      failed: report,
    });
    const cors = corsChecks({ clock: context.options.clock, timeoutMs: context.options.timeoutMs, keyHeader: context.options.keyHeader, transport: context.transport, tell: report });
    this.#delivery = {
      ...context,
      cors,
      // A success at a host ends what was found of its CORS answer: a refusal found again is told again.
      delivered: (origin) => (cors?.answered(origin), context.delivered(origin)),
      acks: this.#acks,
      // A task held for its ack made again was told at last: the loop looks again; stopped (a flush only), it would not
      // find the index emptied so, and the 'drained' its flush held back for that task is said here.
      kick: () => (onChange(), !context.running() && context.index.size === 0 && void context.empty().catch((error: unknown) => (error as { code?: unknown } | null)?.code === 'ERR_CLOSED' || report(error))),
      batchFit: context.options.batch && new BatchFit(context.options.batch),
      giveBack: (entries, lease) => giveBack(this.#delivery, entries, lease),
      // Told offline (`setOnline(false)`), a chain sends nothing more: nothing at all is sent then; nor to a host held.
      yields: (next, run) => !this.#on(run) || !context.reachability.allowed || hostHeld(context, next) || this.#yields(next) || this.#keptAlive,
    };
    this.sweep = new ExpirySweep(this.#delivery);
    this.#ahead = new TakeAhead({
      serial: context.serial,
      take: (lane, run) => this.#takeAhead(lane, run),
      start: (b) => this.#startAhead(b),
      giveBack: (b) => giveBack(this.#delivery, b.unit, b.lease),
      error: (error) => context.emit('error', { error }),
    });
  }

  get active(): number {
    return this.#active.size;
  }

  get settling(): number {
    return this.#settling.size;
  }

  /** Resolves at the next change (a slot freed, a delivery settled). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wakes what waits in `changed` (a run that was ended from outside looks again). */
  wake(): void {
    this.#change();
  }

  /** Resolves once every delivery started has settled. */
  async settled(): Promise<void> {
    this.#stopping = true;
    this.#acks.release();
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
    this.#stopping = false;
  }

  /** Starts what may go now in the free slots (call it alone: the outbox serialises it); resolves how many tasks it started. */
  async fill(run: DeliveryRun): Promise<number> {
    const started = await this.#fill(run);
    // A slot free and nothing to start: no response is coming that acks held back could be grouped with.
    if (started === 0 && this.#active.size < this.#c.options.concurrency) this.#acks.release();
    return started;
  }

  /** Buries what expired, then sends; the first looked at without an await (a fill starts on every response). */
  #fill(run: DeliveryRun): Promise<number> {
    if (this.#keptAlive) return Promise.resolve(0);
    if ((this.sweep.next() ?? Infinity) > this.#c.options.clock.now()) return this.#send(run);
    return this.sweep.run(run).then(async (buried) => buried + (await this.#send(run)));
  }

  async #send(run: DeliveryRun): Promise<number> {
    const { options, reachability } = this.#c;
    let free = options.concurrency - this.#active.size;
    if (free <= 0 || !reachability.allowed) return 0;
    const now = options.clock.now();
    // Offline: one probe at a time, to an origin whose backoff is over (see `Reachability.probeDue`).
    const probing = !reachability.reachable;
    if (probing && (this.#active.size > 0 || !reachability.mayProbe())) return 0;
    if (probing) free = 1;
    // Asked only when not held already: an await is a turn of the microtask queue on every response.
    if (!this.#c.coordination.holdsOrAlone() && !(await this.#c.coordination.mayDeliver(this.#c.running()))) return 0;
    // Only without ordering: with lanes, only a lane's head may go; the chain behind one in flight is taken by `#ahead`.
    const prefetch = reachability.reachable && options.ordering === 'none' ? options.concurrency * (options.batch ? 1 : PREFETCH) : 0;
    // A task of a higher priority came after these were taken ahead: they go back, and the take below chooses.
    const head = this.#buffer[0] && this.#c.index.get(Number(this.#buffer[0].unit[0]!.id));
    if (head && this.#c.index.outranked(head, true, now)) for (const b of this.#buffer.splice(0)) await giveBack(this.#delivery, b.unit, b.lease);
    // Given back: those whose lease could end during their request, and those of a host that asked for a wait.
    for (const b of pickOut(this.#buffer, (b) => this.#unfit(b))) await giveBack(this.#delivery, b.unit, b.lease);
    let started = this.#startBuffered(free, run);
    free -= started.slots;
    // Refilled below half when a fill finds a slot free: a slot freed while all are busy takes from it (see `#start`).
    if ((free > 0 && this.#buffer.length === 0) || this.#buffer.length < prefetch / 2) {
      let units: Buffered[] = [];
      // A take that found the tasks it chose gone (another handle sent or removed them) frees what was behind them in
      // their lanes: taken at once, since nothing else may come to wake the loop for it.
      for (let before = -1; units.length === 0 && before !== this.#c.index.size; ) {
        before = this.#c.index.size;
        units = await this.#take(free + prefetch - this.#buffer.length, run, now);
      }
      this.#buffer.push(...units);
      const more = this.#startBuffered(free, run);
      started = { tasks: started.tasks + more.tasks, slots: started.slots + more.slots };
    }
    return started.tasks;
  }

  /** Puts buffered (taken, not started) units back in the queue, as if never taken. */
  async unbuffer(): Promise<void> {
    for (const { unit, lease } of [...this.#buffer.splice(0), ...this.#ahead.drop()]) await giveBack(this.#delivery, unit, lease);
  }

  /** With ordering, a lane is a chain of up to `CHAIN` tasks at a time (without batches). */
  get #chained(): boolean {
    return chainsLanes(this.#c.options);
  }

  /** The most tasks that go in one unit: a batch, a chain of a lane, or one task. */
  get #unitSize(): number {
    return this.#delivery.batchFit?.limits.maxItems ?? (this.#chained ? CHAIN : 1);
  }

  /** How many tasks of a lane go in one unit, from its first: alone, a chain's first that failed (the rest would come back). */
  #perLane(first: Pending): number {
    return this.#chained && first.attempts > 0 ? 1 : this.#unitSize;
  }

  /** Takes up to `free` units' worth of what may go now; offline, one task as a probe (not the heads of 32 failed lanes). */
  async #take(free: number, run: DeliveryRun, now: number, again = true): Promise<Buffered[]> {
    const { index, reachability } = this.#c;
    // Online, `admits` is undefined (it picks probes): the failing hosts' share of slots limits the take instead.
    const { held, accept, then, swapped } = this.#suspects.limits(this.#buffer);
    const most = reachability.reachable ? this.#unitSize * free : 1;
    const take = (admits: ((p: Pending) => boolean) | undefined, n = most) => index.take(n, now, (p) => this.#perLane(p), admits ?? accept, held);
    let chosen: Pending[] = [];
    for (const admits of probeOrder(reachability)) if ((chosen = take(admits)).length > 0) break;
    if (then && chosen.length < most) chosen.push(...take(then, most - chosen.length));
    for (const p of swapped?.() ?? []) {
      const at = chosen.indexOf(p);
      if (at >= 0) index.ready(chosen.splice(at, 1)[0]!);
    }
    const units = chosen.length === 0 ? [] : await leaseUnits(this.#delivery, chosen, run);
    // Passed over as leased, then found free (the lease ended meanwhile): taken again, as nothing else wakes the loop.
    return units.length > 0 || !again || !chosen.some((p) => p.state === 'ready') ? units : this.#take(free, run, now, false);
  }

  /** Takes the chain of `lane` behind its unit in flight, when the run may go on without a fill. */
  async #takeAhead(lane: string, run: DeliveryRun): Promise<Buffered[]> {
    if (!this.#goesOn(run)) return [];
    const chosen = this.#c.index.takeAhead(lane, this.#c.options.clock.now(), (p) => this.#perLane(p));
    return chosen.length === 0 ? [] : leaseUnits(this.#delivery, chosen, run);
  }

  /**
   * Starts a unit taken ahead (a lane's next chain, or the next buffered unit) in the slot that just freed, unless it
   * may not go now: the run is over, the network or the delivery lock is gone, its lease could end during its first
   * request, or a task that came meanwhile goes first (a higher priority). Then a fill chooses (a chain goes back).
   */
  #startAhead(b: Buffered): boolean {
    const { options, index } = this.#c;
    const first = index.get(Number(b.unit[0]!.id));
    const ok = this.#active.size < options.concurrency && this.#goesOn(b.run) && !this.#unfit(b) && !(first && index.outranked(first, false, options.clock.now()));
    if (ok) this.#start(b, b.run);
    return ok;
  }

  /** A chain stops before `next` when every slot is busy and a task of a higher priority waits for one. */
  #yields(next: Entry): boolean {
    const { index, options } = this.#c;
    const pending = index.get(Number(next.id));
    return this.#active.size >= options.concurrency && pending !== undefined && index.outranked(pending, true, options.clock.now());
  }

  /** Whether units of `run` may start without a fill: it is on, the network is there, this handle delivers, and no keepalive copy is out. */
  #goesOn(run: DeliveryRun): boolean {
    const { reachability } = this.#c;
    return this.#on(run) && reachability.allowed && reachability.reachable && this.#c.coordination.holdsOrAlone() && !this.#keptAlive;
  }

  /** A flush is on until it ends or `stop` ends it; the background run while the outbox runs. */
  #on(run: DeliveryRun): boolean {
    return run.parked ? !run.over : this.#c.running();
  }

  /** Whether buffered `b` may not start now: its lease could end in its request or is in doubt (see `outlasts`), its host is held, or failing and their share of slots used. */
  #unfit(b: Buffered): boolean {
    return outlasts(this.#c.options, b.lease) || hostHeld(this.#c, b.unit[0]!) || this.#suspects.over(b.unit);
  }

  /**
   * A page back from the back/forward cache: keepalive requests its pagehide sent may be out yet. Nothing starts and
   * nothing expires till they end (see `UnloadSender`), so that no task goes beside its keepalive copy (two requests of
   * one Idempotency-Key at once), nor a group's next before that copy of its first lands.
   */
  get #keptAlive(): boolean {
    return this.#c.index.keptAlive.size > 0;
  }

  /** Starts buffered units in up to `free` slots (for `run` if the run that took them is over); says how many tasks and slots that took. */
  #startBuffered(free: number, run: DeliveryRun): { tasks: number; slots: number } {
    let tasks = 0;
    let slots = 0;
    for (; slots < free && this.#active.size < this.#c.options.concurrency; slots++) {
      // Passed over, for `#unfit` to give back: one whose host is failing, their share of slots in use (each start counts at once).
      const unit = unheld(this.#buffer, (b) => this.#suspects.over(b.unit));
      if (!unit) break;
      tasks += unit.unit.length;
      this.#start(unit, this.#on(unit.run) ? unit.run : run);
    }
    return { tasks, slots };
  }

  /** Delivers `unit` in a slot, for `run`; a chain's lane gets its next chain taken ahead, started when this one frees the slot. */
  #start({ unit, lease }: Buffered, run: DeliveryRun): void {
    const lane = this.#chained ? laneOf(unit[0]!.value, this.#c.options.ordering) : undefined;
    const freeSlot = (goesOn = false) => {
      if (!this.#active.delete(sending)) return;
      this.#suspects.ended(sending);
      if (lane !== undefined) this.#ahead.ended(lane, goesOn);
      // Without chains, the next buffered unit takes the slot at once, as a lane's next chain does, without a fill.
      else if (this.#buffer.length > 0 && this.#startAhead(this.#buffer[0]!)) this.#buffer.shift();
      this.#change();
    };
    const settled = (): void => {
      freeSlot();
      this.#settling.delete(sending);
      this.#change();
    };
    // `then`, not `finally`: one promise where `finally` makes three, on every unit.
    const sending: Promise<void> = deliver(this.#delivery, unit, lease, run, freeSlot).then(settled, (error: unknown) => {
      settled();
      throw error;
    });
    this.#active.add(sending);
    this.#suspects.started(unit, sending);
    this.#settling.add(sending);
    if (lane !== undefined) this.#ahead.started(lane, run);
  }

  #change(): void {
    this.changes++;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
    this.#onChange();
  }
}
