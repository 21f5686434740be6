import { SluiceError } from '../core/errors.js';
import { PARTITION_SPAN, partitionOf } from '../core/ids.js';
import { rewindsOf } from '../core/rewinds.js';
import { append } from '../core/long-lists.js';
import type { ListOptions, QueueEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { tellReplaced } from './damage-relay.js';
import type { DeadRecord } from './dead-letters.js';
import type { ToDead } from './delivery.js';
import type { PendingTask } from './events.js';
import { inOutboxWords, mayHaveStored, storedNothing } from './enqueue.js';
import { landed, type Stored } from './landed.js';
import { relearn } from './gone.js';
import { evictions } from './limits.js';
import { eachPage } from './pages.js';
import type { LimitOptions, ResolvedOutboxOptions } from './options.js';
import { checkStored, sameTask } from './pending-task.js';
import type { Pending, PendingIndex } from './pending.js';
import { readWhole, readWholeAt, voidAck } from './voided-acks.js';
import { LIST_PAGE, listed } from './pending-view.js';
import { firstPerPartition, LEFT, pushPlaced } from './placement.js';
import { lettersOf, reconcile } from './reconcile.js';
import type { StoredTask } from './task.js';

/**
 * The outbox's queue seen through its index: loads the index on open, catches it up with what other handles
 * pushed, and stores new tasks, replacing those with the same coalescing key and making room within `limits`.
 * Its methods run alone (the outbox serialises them).
 */
export class PendingStore {
  readonly #queue: Queue<StoredTask>;
  readonly #index: PendingIndex;
  readonly #limits: Required<LimitOptions>;
  /** 'strict': a push that failed is never taken for stored when its tasks are found (see `push`). */
  readonly #strict: boolean;
  /**
   * Per partition of the queue, the entry id up to which every committed entry has been read into the index, past
   * which other handles' pushes are found. Never moved past an entry not read: a handle's own push can be numbered
   * after another's it has not read yet, which "after the last entry it knows" would skip.
   */
  readonly #readTo = new Map<number, number>();
  /** Called when tasks other handles stored join the index. */
  readonly #found: () => void;
  /** Gives back those of the tasks given that this handle took ahead of their request (see `recall`). */
  readonly #recall: (pending: readonly Pending[]) => Promise<void>;
  /** How many tasks the index held when it was last checked against the queue (see `#forgetGone`). */
  #checked = 0;
  /** See `unseen`. */
  #unseen = false;

  constructor(queue: Queue<StoredTask>, index: PendingIndex, options: Pick<ResolvedOutboxOptions, 'limits' | 'durability'>, recall: (pending: readonly Pending[]) => Promise<void>, found: () => void) {
    this.#queue = queue;
    this.#index = index;
    this.#limits = options.limits;
    this.#strict = options.durability === 'strict';
    this.#recall = recall;
    this.#found = found;
  }

  /** The keys of the bodies pending tasks have stored beside them, as far as every handle's pushes are known. */
  async bodyKeys(): Promise<Set<string>> {
    await this.catchUp();
    const keys = new Set<string>();
    for (const pending of this.#index.values()) if (pending.blob !== undefined) keys.add(pending.blob);
    return keys;
  }

  /**
   * Reads the queue into the index, settling what a crash left half done first (see `reconcile`). A page at a time:
   * entries come with their tasks' bodies, and a backlog of large ones read whole (10 000 of 60 KB: 1.2 GB) would
   * not fit in memory, the next open's neither.
   */
  async load(dead: Queue<DeadRecord>): Promise<void> {
    readWhole(this.#queue, rewindsOf(this.#queue));
    const letters = await lettersOf(dead);
    await eachPage(this.#queue, async (entries) => {
      const removed = await reconcile(entries, this.#queue, dead, letters);
      for (const e of entries) {
        if (!removed.has(e.id)) this.#add(e);
        this.#read(Number(e.id));
      }
    });
  }

  /** Adds the entries pushed (by any handle) that the index has not read yet, partition by partition. */
  async catchUp(): Promise<void> {
    for (let round = 1; ; round++) {
      // The store went back since the last whole read: ids read may name other tasks now, stored by a handle that never
      // knew the lost ones (see `tellReplaced`). Read again whole (until one whole read saw no other rewind).
      const before = rewindsOf(this.#queue);
      const whole = before !== readWholeAt(this.#queue);
      if (whole) this.#readTo.clear();
      // A page at a time, as `load` reads (another handle may have pushed a backlog meanwhile).
      for (let p = 0; p < this.#queue.partitions; p++) while ((await this.#readIn({ ...this.#unread(p), limit: LIST_PAGE })) === LIST_PAGE);
      const after = rewindsOf(this.#queue);
      if (whole && after === before) readWhole(this.#queue, after);
      if (after === readWholeAt(this.#queue)) break;
      if (round === REREADS) throw new SluiceError('ERR_STORAGE', `The store of queue "${this.#queue.name}" went back to an earlier state at each of ${round} reads in a row; read again later.`);
    }
    this.#unseen = false;
  }

  /** A push failed and may have stored tasks the index has not read (see `push`): only a `catchUp` finds them. */
  get unseen(): boolean {
    return this.#unseen;
  }

  /**
   * Where a live request of `lane` carrying the task id `id` stands: 'own' when that task is pending here (another
   * handle sending it through `fetch`), 'behind' when its lane's tasks are, else none. Only a lane must be read for;
   * a store that fails (not deleted: then nothing it held is there) leaves it to what this handle holds, or rejects.
   */
  async placeOf(lane: string | undefined, id: string | undefined): Promise<'own' | 'behind' | undefined> {
    if (lane === undefined && id === undefined) return undefined;
    const held = (error: unknown) => (error as { code?: unknown } | null)?.code !== 'ERR_NOT_FOUND' && ((id !== undefined && this.#index.withId(id).length > 0) || this.#index.holds(lane));
    await this.catchUp().catch((error: unknown) => (lane === undefined || held(error) ? undefined : Promise.reject(error)));
    if (id !== undefined && this.#index.withId(id).length > 0) return 'own';
    return this.#index.holds(lane) ? 'behind' : undefined;
  }

  /**
   * Stores `tasks`; resolves the tasks that leave for it: older pending tasks (and earlier ones of `tasks`) with the
   * same key, as 'superseded' (unless `coalesce` is false: dead letters put back, which may be older than what
   * replaced them, and are retried beside it), and the oldest tasks 'drop-oldest' evicts, as 'evicted'. Rejects
   * 'ERR_QUOTA_EXCEEDED', storing nothing, when they do not fit the limits. `stored`: the entries stored, in order.
   */
  async admit(tasks: readonly StoredTask[], coalesce = true): Promise<{ doomed: ToDead[]; stored: Stored[] }> {
    await this.catchUp();
    if (this.#index.size >= 2 * Math.max(this.#checked, GONE_CHECK_FROM)) await this.#forgetGone();
    // Within the batch, the last task of a key wins too: found in one pass (not comparing each with every other).
    const last = new Map<string, number>();
    if (coalesce) tasks.forEach((t, i) => t.key !== undefined && last.set(t.key, i));
    const kept = (t: StoredTask, i: number) => !coalesce || t.key === undefined || last.get(t.key) === i;
    const keep = tasks.filter(kept);
    const doomed: ToDead[] = tasks.filter((t, i) => !kept(t, i)).map((value) => ({ entry: { id: '', value, attempts: 0 }, reason: 'superseded' }));
    const keys = new Set(coalesce ? keep.flatMap((t) => (t.key === undefined ? [] : [t.key])) : []);
    const replaced = await this.entries([...keys].flatMap((key) => this.#index.withKey(key)));
    append(doomed, replaced.map((entry) => ({ entry, reason: 'superseded' as const })));
    append(doomed, (await evictions(this.#limits, this.#index, keep, replaced, (chosen) => this.entries(chosen), () => this.#forgetGone(), () => this.#queue.size())).map((entry) => ({ entry, reason: 'evicted' as const })));
    return { doomed, stored: await this.push(keep) };
  }

  /** Takes out of the queue and the index the entries `entries` not taken meanwhile (an unfinished dead-letter retry). */
  async withdraw(entries: readonly string[]): Promise<void> {
    const count = await this.#queue.remove(entries, { leased: false });
    const idle = entries.flatMap((id) => this.#index.get(Number(id)) ?? []).filter((p) => p.state !== 'busy');
    relearn(this.#index, idle, count < entries.length ? await this.#queue.list({ ids: [...entries] }) : []);
  }

  /**
   * Stores `tasks` as they are and indexes them; resolves their entries. A push that fails may have stored them all
   * the same (a commit whose reply was lost): the store is read to tell, and when every one is there, the push
   * resolves. Else it rejects, and what it may have stored is read in (now, or by the next `catchUp`, see `unseen`), so
   * that the outbox delivers it. With 'strict', tasks found are no proof: a commit that replicas never confirmed is
   * on the primary, and lost with it should it fail. The push rejects, and what it stored is taken out again.
   */
  async push(tasks: readonly StoredTask[]): Promise<Stored[]> {
    const before = new Map(this.#readTo);
    let ids: number[];
    try {
      ids = (await pushPlaced(this.#queue, tasks, this.#index.ordering)).map(Number);
    } catch (error) {
      if (storedNothing(error)) throw inOutboxWords(error);
      this.#unseen = true;
      // Read in since the index had read up to `before`.
      const fresh = (seq: number) => seq > readUpTo(before, partitionOf(seq)[0]);
      const found = await this.catchUp().then(() => landed(this.#queue, this.#index, tasks, fresh)).catch(() => []);
      if (found.length === tasks.length && !this.#strict) return found;
      // Some, not all: a partition's share (see `pushPlaced`). Taken out again, as the shares before it were: then none
      // was left stored after all, and the store's own refusal says so (bodies deleted), not the shares' (see `LEFT`).
      if (found.length > 0 && (await this.#withdrawLanded(found)) && LEFT.has(error as object)) throw inOutboxWords((error as Error).cause);
      throw mayHaveStored(error, tasks);
    }
    // Entries other handles committed just before these, in each partition they went to, are read first: the index
    // adds a lane's tasks in queue order.
    try {
      for (const [p, first] of firstPerPartition(ids)) {
        const gap = first - readUpTo(this.#readTo, p) - 1;
        if (gap > 0) await this.#readIn({ ...this.#unread(p), limit: gap });
      }
      tasks.forEach((task, i) => {
        this.#index.add(ids[i]!, task, 0);
        this.#read(ids[i]!);
      });
    } catch {
      // Stored: a rejection would read as "not stored" (enqueued again: sent twice). The next `catchUp` reads them in.
      this.#unseen = true;
    }
    return tasks.map((value, i) => ({ id: String(ids[i]), value }));
  }

  /**
   * The stored entries of `pending` tasks that may leave the outbox now: not in flight, here or in another handle.
   * Those gone from the queue meanwhile leave the index.
   */
  async entries(pending: readonly Pending[]): Promise<QueueEntry<StoredTask>[]> {
    await this.#recall(pending);
    const free = pending.filter((p) => p.state !== 'busy');
    if (free.length === 0) return [];
    const found = await this.#stillThere(free);
    return found.filter((e) => {
      if (e.state !== 'leased') return true;
      this.#index.wait(this.#index.get(Number(e.id))!, e.availableAt, 'lease');
      return false;
    });
  }

  /** Pending tasks in queue order, at most `limit`, of one `group` and in one of `states` when given (see `listed`). */
  async list(group: string | undefined, limit: number, states: readonly PendingTask['state'][] | undefined, now: number): Promise<PendingTask[]> {
    await this.catchUp();
    return listed(this.#queue, this.#index.values(), group, limit, states, now);
  }

  /** What to list of partition `p` to read the entries the index has not read. */
  #unread(p: number): ListOptions {
    const to = this.#readTo.get(p);
    return to === undefined ? { partition: p } : { partition: p, after: String(to) };
  }

  /** Removes `found`, stored by a push that rejects (true once done); should that fail too, they stay, and are delivered. */
  #withdrawLanded(found: readonly Stored[]): Promise<boolean> {
    const ids = found.map((e) => e.id);
    return this.#queue.remove(ids, { leased: false }).then(() => this.#stillThere(ids.flatMap((id) => this.#index.get(Number(id)) ?? [])).then(() => true), () => false);
  }

  /** Adds the entries `options` lists to the index, and counts them read; resolves how many it listed. */
  async #readIn(options: ListOptions): Promise<number> {
    const entries = await this.#queue.list(options);
    const replaced: Pending[] = [];
    for (const e of entries) {
      const known = this.#index.get(Number(e.id));
      // Known (a whole read, see `catchUp`), but as another task: lost, and its entry's id given to this one.
      if (known && !sameTask(e.value, known)) {
        replaced.push(known);
        if (known.state === 'busy') voidAck(this.#queue, e.id);
        this.#index.remove(known);
      }
      // Tried already, by a handle whose lease this one never saw: it may have been cut short mid-burial (an open
      // reconciles what it loads; a handle that reads a task in later looks for its letter at its take instead).
      const pending = this.#add(e);
      if (pending !== known && e.attempts > 0) pending.heldAway = true;
      this.#read(Number(e.id));
    }
    if (replaced.length > 0) tellReplaced(this.#queue, replaced);
    if (entries.length > 0) this.#found();
    return entries.length;
  }

  #read(id: number): void {
    const [p] = partitionOf(id);
    this.#readTo.set(p, Math.max(this.#readTo.get(p) ?? -1, id));
  }

  #add(e: QueueEntry<StoredTask>): Pending {
    checkStored(e.value, this.#queue.name, e.id);
    const held = e.state !== 'ready';
    return this.#index.add(Number(e.id), e.value, e.attempts, held ? e.availableAt : 0, e.state === 'leased' ? 'lease' : 'server');
  }

  /**
   * Forgets the tasks gone from the queue. A handle finds out what other handles removed when it takes a task, and
   * from their messages; one that only enqueues, in another process (nothing relayed), would do neither, and count
   * tasks long sent for ever: against `limits`, and in memory. Checked before a refusal, and as the index doubles.
   */
  async #forgetGone(): Promise<void> {
    const idle = [...this.#index.values()].filter((p) => p.state !== 'busy');
    for (let at = 0; at < idle.length; at += LIST_PAGE) await this.#stillThere(idle.slice(at, at + LIST_PAGE));
    this.#checked = this.#index.size;
  }

  /**
   * The stored entries of `pending`; those gone from the queue (another handle sent or removed them), or whose entry
   * now holds another task (lost, see `tellReplaced`), leave the index.
   */
  async #stillThere(pending: readonly Pending[]): Promise<QueueEntry<StoredTask>[]> {
    const bySeq = new Map(pending.map((p) => [String(p.seq), p]));
    const replaced: Pending[] = [];
    const found = (await this.#queue.list({ ids: [...bySeq.keys()] })).filter((e) => {
      const p = bySeq.get(e.id)!;
      bySeq.delete(e.id);
      return sameTask(e.value, p) || !replaced.push(p);
    });
    if (replaced.length > 0) tellReplaced(this.#queue, replaced);
    for (const p of [...replaced, ...bySeq.values()]) this.#index.remove(p);
    // Those gone went by another handle's doing, but for what a failed push withdrew (its word may come after: `Gone`).
    this.#index.gone.add(bySeq.values());
    return found;
  }
}

/** The entry id up to which `readTo` (see `PendingStore.#readTo`) says partition `p` has been read. */
function readUpTo(readTo: ReadonlyMap<number, number>, p: number): number {
  return readTo.get(p) ?? p * PARTITION_SPAN - 1;
}

/** Whole reads of the queue in a row that may each find its store gone back again, before `catchUp` gives up. */
const REREADS = 4;

/** The index is first checked for tasks gone (see `#forgetGone`) when it holds this many. */
const GONE_CHECK_FROM = 1024;
