import type { Lease, LeaseEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { AckBatcher } from './ack-batcher.js';
import { packBatches } from './batching.js';
import type { Coordination } from './coordination.js';
import type { DeadReason } from './dead-letters.js';
import type { OutboxEventMap, RetryDetail, SentDetail } from './events.js';
import type { ResolvedOutboxOptions } from './options.js';
import type { Pending, PendingIndex } from './pending.js';
import type { Reachability } from './reachability.js';
import { discard, send } from './send.js';
import { normaliseTask, publicTask, type StoredTask } from './task.js';
import { verdictFor } from './verdict.js';

export type Entry = LeaseEntry<StoredTask>;

/** Counts of one delivery run (a `flush`, or the background loop). */
export interface DeliveryRun {
  sent: number;
  retried: number;
  dead: number;
  /** A flush tries each task at most once: those it retried wait here, parked, until it ends. */
  readonly parked: Set<Pending> | undefined;
}

/** A task on its way to dead: its entry (id '' when it was never stored) and why. */
export interface ToDead {
  readonly entry: { readonly id: string; readonly value: StoredTask; readonly attempts: number };
  readonly reason: DeadReason;
  readonly status?: number;
  readonly error?: string;
}

/** Units taken and not started yet, with the lease holding them and the run that took them. */
interface Buffered {
  readonly unit: Entry[];
  readonly lease: Lease<StoredTask>;
  readonly run: DeliveryRun;
}

/** What the dispatcher needs of the outbox it serves. */
export interface DispatcherContext {
  readonly options: ResolvedOutboxOptions;
  readonly queue: Queue<StoredTask>;
  readonly index: PendingIndex;
  readonly reachability: Reachability;
  readonly coordination: Coordination;
  readonly transport: () => typeof fetch;
  /** Dispatches `type` on the outbox (a CustomEvent with `detail`). */
  readonly emit: (type: keyof OutboxEventMap, detail?: unknown) => void;
  /** Moves tasks to dead (into dead letters first, then out of the outbox). */
  readonly toDead: (list: readonly ToDead[], lease: Lease<StoredTask> | undefined, run: DeliveryRun) => Promise<void>;
  /** True while the background loop runs (a granted lock is then kept). */
  readonly running: () => boolean;
}

/**
 * Starts requests within `concurrency`: it chooses tasks on the pending index, takes exactly those from the queue,
 * sends them, and settles each by its verdict (acked in groups, released with a delay, or moved to dead). It takes
 * a few more than the free slots without ordering and keeps them leased in a buffer, so that a slot freed by a
 * response starts the next task without waiting for a storage commit.
 */
export class Dispatcher {
  readonly #c: DispatcherContext;
  /** Requests in flight: what `concurrency` bounds. A slot frees when the response is in. */
  readonly #active = new Set<Promise<void>>();
  /** Deliveries not yet settled (acked, delayed or dead); a superset of `#active`. */
  readonly #settling = new Set<Promise<void>>();
  readonly #buffer: Buffered[] = [];
  /** Delivered tasks are removed by id, many per commit: the response is in, whichever lease holds them now. */
  readonly #acks: AckBatcher;
  /** Bumped whenever a slot frees or a delivery settles; `changed` waits for the next bump. */
  #changes = 0;
  #waiters: (() => void)[] = [];
  readonly #onChange: () => void;

  constructor(context: DispatcherContext, onChange: () => void) {
    this.#c = context;
    this.#onChange = onChange;
    this.#acks = new AckBatcher((ids) => context.queue.remove(ids));
  }

  get changes(): number {
    return this.#changes;
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

  /** Resolves once every delivery started has settled. */
  async settled(): Promise<void> {
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
  }

  /** Starts what may go now in the free slots (call it alone: the outbox serialises it); resolves how many tasks it started. */
  async fill(run: DeliveryRun): Promise<number> {
    const { options, reachability } = this.#c;
    let free = options.concurrency - this.#active.size;
    if (free <= 0 || !reachability.allowed) return 0;
    const now = options.clock.now();
    if (!reachability.reachable) {
      // Offline: one probe at a time, spaced by backoff.
      if (this.#active.size > 0 || now < reachability.probeAt) return 0;
      free = 1;
    }
    if (!(await this.#c.coordination.mayDeliver(this.#c.running()))) return 0;
    // Only without ordering: with lanes, only a lane's head may go, so there is little to take ahead.
    const prefetch = reachability.reachable && options.ordering === 'none' ? options.concurrency : 0;
    let started = this.#startBuffered(free);
    free -= started.slots;
    // Refilled below half, after starting what was there: the take's commit overlaps requests in flight.
    if ((free > 0 && this.#buffer.length === 0) || this.#buffer.length < prefetch / 2) {
      const units = await this.#take(free + prefetch - this.#buffer.length, run, now);
      this.#buffer.push(...units);
      const more = this.#startBuffered(free);
      started = { tasks: started.tasks + more.tasks, slots: started.slots + more.slots };
    }
    return started.tasks;
  }

  /** Puts buffered (taken, not started) units back in the queue, as if never taken. */
  async unbuffer(units = this.#buffer.splice(0)): Promise<void> {
    for (const { unit, lease } of units) {
      await lease.release(unit.map((e) => e.id));
      for (const e of unit) {
        const pending = this.#c.index.get(Number(e.id));
        if (pending) this.#c.index.ready(pending);
      }
    }
  }

  /** Takes up to `free` units' worth of the tasks the index says may go now. */
  async #take(free: number, run: DeliveryRun, now: number): Promise<Buffered[]> {
    const { options, index, queue } = this.#c;
    const perLane = options.batch?.maxItems ?? 1;
    const chosen = index.take(options.batch ? free * perLane : free, now, perLane);
    if (chosen.length === 0) return [];
    const ids = chosen.map((p) => String(p.seq));
    let lease: Lease<StoredTask> | undefined;
    try {
      lease = await queue.take(ids.length, { ids });
    } catch (error) {
      for (const p of chosen) index.ready(p);
      throw error;
    }
    const taken = new Map((lease?.entries ?? []).map((e) => [e.id, e]));
    const missing = chosen.filter((p) => !taken.has(String(p.seq)));
    // Gone (another handle delivered or removed them) or held by another handle: the index learns which.
    if (missing.length > 0) {
      const found = new Map((await queue.list({ ids: missing.map((p) => String(p.seq)) })).map((e) => [Number(e.id), e]));
      for (const p of missing) {
        const entry = found.get(p.seq);
        if (!entry) index.remove(p);
        else index.wait(p, entry.availableAt, 'server');
      }
    }
    if (!lease) return [];
    // In the order the index chose them: higher priority first.
    const entries = chosen.flatMap((p) => taken.get(String(p.seq)) ?? []);
    for (const e of entries) {
      const pending = index.get(Number(e.id));
      if (pending) pending.attempts = e.attempts;
    }
    const { units, leftover } = options.batch ? packBatches(entries, options.ordering, options.batch) : { units: entries.map((e) => [e]), leftover: [] };
    if (leftover.length > 0) await this.unbuffer([{ unit: leftover, lease, run }]);
    return units.map((unit) => ({ unit, lease: lease!, run }));
  }

  /** Starts buffered units in up to `free` slots; says how many tasks and slots that took. */
  #startBuffered(free: number): { tasks: number; slots: number } {
    let tasks = 0;
    let slots = 0;
    for (; slots < free && this.#buffer.length > 0; slots++) {
      const { unit, lease, run } = this.#buffer.shift()!;
      tasks += unit.length;
      const freeSlot = () => {
        if (this.#active.delete(sending)) this.#change();
      };
      const sending: Promise<void> = this.#deliver(unit, lease, run, freeSlot).finally(() => {
        freeSlot();
        this.#settling.delete(sending);
        this.#change();
      });
      this.#active.add(sending);
      this.#settling.add(sending);
    }
    return { tasks, slots };
  }

  /** Sends one unit (a task, or a batch) and settles it. */
  async #deliver(unit: Entry[], lease: Lease<StoredTask>, run: DeliveryRun, freeSlot: () => void): Promise<void> {
    const { options, emit } = this.#c;
    try {
      const now = options.clock.now();
      const doomed: ToDead[] = [];
      const ready: { entry: Entry; task: StoredTask }[] = [];
      // Expiry is decided before the send, never during it.
      for (const entry of unit) {
        const task = entry.value;
        if (task.expiresAt !== undefined && task.expiresAt <= now) doomed.push({ entry, reason: 'expired' });
        else {
          const edited = await this.#beforeSend(entry);
          if ('reason' in edited) doomed.push(edited);
          else ready.push({ entry, task: edited.task });
        }
      }
      await this.#c.toDead(doomed, lease, run);
      if (ready.length === 0) return;
      const { outcome, reachable } = await send(
        ready.map((r) => r.task),
        { fetch: this.#c.transport(), clock: options.clock, timeoutMs: options.timeoutMs, headers: options.headers, batchUrl: options.batchUrl },
      );
      if (reachable !== undefined) this.#c.reachability.saw(reachable);
      // The next request may start while this one's ack commits.
      freeSlot();
      await this.#settle(ready, outcome, lease, run);
    } catch (error) {
      // A storage failure mid-settle: the lease expires and the task is tried again, never lost.
      emit('error', { error });
    }
  }

  async #beforeSend(entry: Entry): Promise<{ task: StoredTask } | ToDead> {
    const hook = this.#c.options.onBeforeSend;
    const stored = entry.value;
    if (!hook) return { task: stored };
    const edited = await hook(publicTask(stored));
    if (edited === false) return { entry, reason: 'skipped' };
    try {
      // The id (the Idempotency-Key) and the age stay the task's own, whatever the hook returns.
      return { task: normaliseTask({ ...edited, id: stored.id }, this.#c.options.baseUrl, stored.createdAt) };
    } catch (error) {
      return { entry, reason: 'invalid', error: error instanceof Error ? error.message : String(error) };
    }
  }

  async #settle(ready: readonly { entry: Entry; task: StoredTask }[], outcome: Response | Error, lease: Lease<StoredTask>, run: DeliveryRun): Promise<void> {
    const { options, index, emit, coordination } = this.#c;
    const entries = ready.map((r) => r.entry);
    const ids = entries.map((e) => e.id);
    const status = outcome instanceof Error ? undefined : outcome.status;
    const error = outcome instanceof Error ? outcome.message : undefined;
    const extra = { ...(status !== undefined && { status }), ...(error !== undefined && { error }) };
    const now = options.clock.now();
    const verdict = verdictFor(outcome, publicTask(ready[0]!.task), options, {
      attempts: Math.max(...entries.map((e) => e.attempts)),
      createdAt: Math.min(...entries.map((e) => e.value.createdAt)),
      now,
    });
    try {
      if (verdict.kind === 'sent') {
        await this.#acks.add(ids);
        run.sent += ready.length;
        for (const { entry, task } of ready) {
          const pending = index.get(Number(entry.id));
          if (pending) index.remove(pending);
          const detail: SentDetail = { task: publicTask(task), status: status ?? 0, attempts: entry.attempts };
          emit('sent', outcome instanceof Error ? detail : { ...detail, response: outcome });
          coordination.post({ type: 'sent', detail });
        }
        return;
      }
      if (verdict.kind === 'dead') {
        await this.#c.toDead(entries.map((entry) => ({ entry, reason: verdict.reason, ...extra })), lease, run);
        return;
      }
      const { delayMs, cause } = verdict;
      await lease.release(ids, { delayMs });
      run.retried += ready.length;
      for (const { entry, task } of ready) {
        const pending = index.get(Number(entry.id));
        if (pending) {
          pending.last = extra;
          index.wait(pending, now + delayMs, cause);
          if (run.parked) {
            index.park(pending);
            run.parked.add(pending);
          }
        }
        const detail: RetryDetail = { task: publicTask(task), attempts: entry.attempts, delayMs, ...extra };
        emit('retry', detail);
      }
    } finally {
      if (!(outcome instanceof Error)) await discard(outcome);
    }
  }

  #change(): void {
    this.#changes++;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
    this.#onChange();
  }
}
