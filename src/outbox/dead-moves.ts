import type { Lease, LeaseEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { Serial } from '../core/serial.js';
import { backoffDelay } from './backoff.js';
import { moveToDead } from './bury.js';
import { deadDetail, type DeadRecord } from './dead-letters.js';
import type { Deliverer } from './deliverer.js';
import type { DeliveryRun, ToDead } from './delivery.js';
import type { Notices } from './notices.js';
import { leftBehind, lettersLeaving, putBackFrom } from './reconcile.js';
import { tally } from './tally.js';
import type { ResolvedOutboxOptions } from './options.js';
import type { PendingIndex } from './pending.js';
import type { PendingStore } from './pending-store.js';
import type { StoredTask } from './task.js';

/** What moving tasks to and from the dead letters needs of the outbox. */
export interface DeadMovesContext {
  readonly options: ResolvedOutboxOptions;
  readonly queue: Queue<StoredTask>;
  readonly deadQueue: Queue<DeadRecord>;
  readonly index: PendingIndex;
  readonly pending: PendingStore;
  /** The outbox's serialiser: tasks put back join the index in turn. */
  readonly serial: Serial;
  readonly notices: Notices;
  /** The outbox, whose listeners are told. */
  readonly target: EventTarget;
  /** Tells a failure no caller can reject with. */
  readonly tellError: (error: unknown) => unknown;
  /** Tells other handles of tasks gone dead, and delivers tasks put back. */
  readonly deliverer: Deliverer;
  /** Throws 'ERR_CLOSED' once the outbox is closing. */
  readonly checkOpen: () => void;
}

/**
 * Tasks passing between the outbox and its dead letters, each way said as it happens: moved to dead ('dead', to
 * this handle's listeners and to other handles), and put back by a retry ('enqueue', as an enqueue says it).
 */
export class DeadMoves {
  readonly #c: DeadMovesContext;

  constructor(context: DeadMovesContext) {
    this.#c = context;
  }

  /** Moves tasks to dead (see `moveToDead`) and says so. */
  async toDead(list: readonly ToDead[], lease: Lease<StoredTask> | undefined, run: DeliveryRun): Promise<void> {
    if (list.length === 0) return;
    const c = this.#c;
    const buried = await moveToDead({ dead: c.deadQueue, queue: c.queue, index: c.index, options: c.options }, list, lease, c.options.clock.now());
    tally(run, 'dead', buried.length);
    for (const { record, letter } of buried) this.#said(record, letter);
    c.notices.changed();
  }

  /** Says `record`'s task went dead (into dead letter `letter`): to this handle's listeners, and to other handles. */
  #said(record: DeadRecord, letter: string): void {
    const detail = deadDetail(record, letter);
    this.#c.target.dispatchEvent(new CustomEvent('dead', { detail }));
    // A task that never entered the queue (superseded within its own enqueue, `from` '') is not told to other
    // handles: none holds it, and one holding a task with the same id (or, of an earlier version, entry 0 for an
    // entry of '') would take it for that one.
    if (record.from !== '') this.#c.deliverer.post({ type: 'dead', detail, ...(record.from && { entry: record.from }) });
  }

  /**
   * Of `entries`, taken back from leases that ended unsettled or left by a burial that failed, those whose move to dead
   * was cut short: their letters written, the tasks not yet removed. The move is finished here (the tasks removed,
   * their letters and bodies kept) and said, as an open's `reconcile` would; the rest go on to be delivered. Of
   * `retried`, put back by a dead-letter retry, the letters still standing go first (see `#retire`). Resolves the ids
   * not to deliver now: those removed, or all of them when the letters cannot be read or changed. Then none is sent
   * while it may be dead: they go back untried, to be looked at again after a retry delay, and the failure is told.
   */
  async finishCutShort(entries: readonly LeaseEntry<StoredTask>[], lease: Lease<StoredTask>, retried: readonly LeaseEntry<StoredTask>[]): Promise<Set<string>> {
    const c = this.#c;
    let records: { id: string; value: DeadRecord }[] = [];
    let ids = new Set<string>();
    try {
      if (entries.length > 0) records = await lettersLeaving(entries, c.deadQueue);
      ids = new Set(records.map((r) => r.value.from!));
      if (retried.length > 0) await this.#retire(retried);
      if (ids.size > 0) await lease.ack([...ids]);
    } catch (error) {
      c.tellError(error);
      const back = [...new Set([...entries, ...retried])];
      await this.#holdBack(back, lease);
      return new Set(back.map((e) => e.id));
    }
    for (const e of retried) {
      const pending = c.index.get(Number(e.id));
      if (pending) pending.retriedFrom = undefined;
    }
    if (ids.size === 0) return ids;
    for (const id of ids) {
      const pending = c.index.get(Number(id));
      if (pending) c.index.remove(pending);
    }
    for (const { value, id } of records) this.#said(value, id);
    c.notices.changed();
    return ids;
  }

  /**
   * Deletes the letters `retried` came from, where they still stand: a retry cut short (a crash), failed (its caller
   * told so) or still under way in another handle. The retry wins, as an open's `reconcile` decides: its task goes,
   * its letter first, so that it is never sent and dead. Every handle decides alike, so none takes the letter's side
   * while another takes the task's (both would go).
   */
  async #retire(retried: readonly LeaseEntry<StoredTask>[]): Promise<void> {
    const { deadQueue, notices } = this.#c;
    const standing = await deadQueue.list({ ids: retried.map((e) => e.value.retriedFrom!) });
    const theirs = standing.filter((l) => retried.some((e) => putBackFrom(l, e.value)));
    if (theirs.length === 0) return;
    await deadQueue.remove(theirs.map((l) => l.id));
    notices.changed();
  }

  /**
   * Before `letters` are put back or purged: a letter whose move to dead was cut short names its task's entry, still
   * pending (see `reconcile`), and a task an earlier retry of it put back, which failed or was cut short, names the
   * letter. Those entries go, as the move would have finished (or the retry not begun), so that the task is not both
   * put back and still there (sent twice, and perhaps dead again besides), nor purged and sent after all. Resolves the
   * letters whose entry is in flight (leased) and stays: those are neither put back nor purged now.
   */
  finishBefore(letters: readonly { id: string; value: DeadRecord }[]): Promise<Set<string>> {
    return this.#c.serial(() => this.#finishBefore(letters));
  }

  /** `finishBefore`, in the outbox's turn already (a retry's). */
  async #finishBefore(letters: readonly { id: string; value: DeadRecord }[]): Promise<Set<string>> {
    const kept = new Set<string>();
    const { queue, pending, index } = this.#c;
    // What a failed push of an earlier retry stored is read in first.
    if (letters.length > 0) await pending.catchUp();
    const naming = new Map<string, { id: string; value: DeadRecord }>();
    for (const l of letters) {
      if (l.value.from) naming.set(l.value.from, l);
      // Put back by an earlier retry of this letter that failed or was cut short: its take would delete the letter.
      for (const p of index.withId(l.value.task.id)) if (p.retriedFrom === l.id) naming.set(String(p.seq), l);
    }
    if (naming.size === 0) return kept;
    const twins = (await queue.list({ ids: [...naming.keys()] })).filter((e) => {
      const letter = naming.get(e.id)!;
      return leftBehind(letter.value, e.value) || putBackFrom(letter, e.value);
    });
    if (twins.length === 0) return kept;
    await pending.withdraw(twins.map((e) => e.id));
    // Those still there after it are leased: in flight, here or in another handle.
    for (const e of await queue.list({ ids: twins.map((t) => t.id) })) kept.add(naming.get(e.id)!.id);
    return kept;
  }

  /**
   * `entries`, whose dead letters could not be looked at, released untried after a retry delay (a store that keeps
   * failing is not asked again at once), to be looked at again when next taken. Those that cannot be released stay
   * leased here until the lease ends, and are looked at when taken back.
   */
  async #holdBack(entries: readonly LeaseEntry<StoredTask>[], lease: Lease<StoredTask>): Promise<void> {
    const { index, options } = this.#c;
    const delayMs = backoffDelay(options.retry, 1, options.random);
    const released = await lease.release(entries.map((e) => e.id), { untried: true, delayMs }).then(
      () => true,
      () => false,
    );
    const until = released ? options.clock.now() + delayMs : lease.expiresAt;
    for (const e of entries) {
      const pending = index.get(Number(e.id));
      if (!pending) continue;
      if (released) pending.attempts = Math.max(0, pending.attempts - 1);
      index.wait(pending, until, released ? 'server' : 'lease');
      pending.heldAway = true;
    }
  }

  /**
   * Puts dead tasks back with their ids, fresh age and attempts, stamped after their move to dead and naming the dead
   * letter each came from (see `reconcile`). They count against `limits` as an enqueue's tasks do: refused, or room made
   * by evicting the oldest; never coalesced with what replaced them (a retry named them). Stored, not yet said: the
   * caller removes their letters, then `announce`s them, or `withdraw`s them should that removal fail.
   */
  async requeue(all: readonly { id: string; value: DeadRecord }[]): Promise<Requeued> {
    const c = this.#c;
    c.checkOpen();
    const now = c.options.clock.now();
    c.notices.coming();
    let letters = all;
    let kept = new Set<string>();
    let tasks: StoredTask[] = [];
    const entries = await c.serial(async () => {
      kept = await this.#finishBefore(all);
      letters = all.filter((l) => !kept.has(l.id));
      tasks = letters.map(({ id, value }): StoredTask => ({ ...value.task, createdAt: Math.max(now, value.at + 1), retriedFrom: id }));
      const admitted = await c.pending.admit(tasks, false);
      // Stored: what they evict stays pending should its burial fail, and the failure is told (as for an enqueue).
      await this.toDead(admitted.doomed, undefined, c.deliverer.aside).catch(c.tellError);
      return admitted.stored.map((e) => e.id);
    });
    c.notices.owed();
    return {
      kept: [...kept],
      announce: () => {
        // Stored again, as an enqueue stores: a service worker's backgroundSync registers its sync on this.
        c.target.dispatchEvent(new CustomEvent('enqueue', { detail: { ids: tasks.map((t) => t.id) } }));
        c.notices.changed();
        c.deliverer.kick();
      },
      withdraw: () => c.serial(() => c.pending.withdraw(entries)),
    };
  }
}

/** Dead tasks put back into the outbox, not yet said (see `DeadMoves.requeue`). */
export interface Requeued {
  /** The letters not put back: their tasks are in flight, left by a move to dead cut short (see `#finishBefore`). */
  readonly kept: readonly string[];
  /** Says they are back ('enqueue', 'change') and delivers them. */
  readonly announce: () => void;
  /** Takes them out again, those not taken meanwhile. */
  readonly withdraw: () => Promise<void>;
}
