import type { Lease } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { parseIds } from '../core/ids.js';
import { serial } from '../core/serial.js';
import type { ToDead } from './delivery.js';
import type { DeadDetail } from './events.js';
import type { PendingIndex } from './pending.js';
import { blobKey, publicTask, type HttpTask, type StoredTask } from './task.js';

/** Why a task went to dead. */
export type DeadReason =
  | 'status' // the server answered with a status `classify` calls dead (a 400, say)
  | 'network' // `classify` called a network error dead
  | 'max-attempts'
  | 'max-age'
  | 'expired' // its `expiresAt` passed before it was delivered
  | 'superseded' // a newer task with the same `key` replaced it
  | 'skipped' // `onBeforeSend` returned false
  | 'evicted' // `limits` with overflow 'drop-oldest' made room for newer tasks
  | 'invalid' // its request could not be built: `onBeforeSend` or `headers()` threw or returned what fetch refuses
  | 'redirect'; // the server answered with a redirect that `OutboxOptions.redirect` does not follow

/** A dead task as stored in `<name>.dead`. */
export interface DeadRecord {
  readonly task: StoredTask;
  readonly reason: DeadReason;
  /** The last HTTP status received, if any. */
  readonly status?: number;
  /** Attempts made (sends started). */
  readonly attempts: number;
  /** Epoch ms when it went to dead. */
  readonly at: number;
  /** The last error's message, for network failures and timeouts (scrubbed of header values). */
  readonly error?: string;
  /** For 'redirect': where the redirect pointed, when the platform shows it (browsers hide it). */
  readonly location?: string;
  /**
   * The outbox entry the task left ('' when it never entered: superseded within its own batch), so that `reconcile`
   * finds that very entry after a crash, never another task with the same id. Absent in records of earlier versions.
   */
  readonly from?: string;
}

/** A dead letter as `dead.list()` shows it. */
export interface DeadLetter {
  /** The dead letter's id in the dead-letter queue (for `retry` and `purge`). */
  readonly id: string;
  readonly task: HttpTask & { id: string };
  readonly reason: DeadReason;
  readonly status?: number;
  readonly attempts: number;
  readonly at: number;
  readonly error?: string;
  readonly location?: string;
}

/**
 * Tasks that left the outbox without being delivered, each with its reason, last status and attempts, kept in a
 * queue of their own until someone retries or purges them. Nothing leaves the outbox silently: it is sent, or it
 * is here.
 */
export class DeadLetters {
  readonly #queue: Queue<DeadRecord>;
  readonly #requeue: (letters: { id: string; value: DeadRecord }[]) => Promise<void>;
  readonly #forget: (bodies: string[]) => Promise<void>;
  /** Retries and purges of this handle, one at a time: a purge never deletes a body that a retry just put back. */
  readonly #serial = serial();

  /**
   * @internal The outbox makes it; `requeue` puts tasks back into the outbox with their ids, `forget` deletes the
   * bodies of purged tasks stored beside them.
   */
  constructor(queue: Queue<DeadRecord>, requeue: (letters: { id: string; value: DeadRecord }[]) => Promise<void>, forget: (bodies: string[]) => Promise<void>) {
    this.#queue = queue;
    this.#requeue = requeue;
    this.#forget = forget;
  }

  /** Dead letters, oldest first (at most `limit`). */
  async list(options: { readonly limit?: number } = {}): Promise<DeadLetter[]> {
    const entries = await this.#queue.list(options);
    return entries.map(({ id, value }) => {
      const letter: DeadLetter = { id, task: publicTask(value.task), reason: value.reason, attempts: value.attempts, at: value.at };
      return {
        ...letter,
        ...(value.status !== undefined && { status: value.status }),
        ...(value.error !== undefined && { error: value.error }),
        ...(value.location !== undefined && { location: value.location }),
      };
    });
  }

  /** @internal The keys of the bodies dead tasks keep beside them (a retry sends them again). */
  async bodyKeys(): Promise<string[]> {
    if ((await this.#queue.size()) === 0) return [];
    return (await this.#queue.list()).flatMap((e) => blobKey(e.value.task) ?? []);
  }

  /** How many dead letters there are. */
  size(): Promise<number> {
    return this.#queue.size();
  }

  /**
   * Puts dead tasks back into the outbox (all, or those of `ids`) with their ids, so the server sees the same
   * Idempotency-Key, and fresh attempts and age. All of them but the superseded: a newer task with the same `key`
   * replaced those, and sending them after it would put older data over newer (name them to retry them all the same).
   * Resolves how many went back.
   */
  retry(ids?: readonly string[]): Promise<number> {
    return this.#serial(async () => {
      const lease = await this.#claim(ids, ids === undefined ? 'superseded' : undefined);
      if (!lease) return 0;
      // Into the outbox first, then out of here: a crash between leaves the task in both, and the outbox's open
      // keeps the newer of the two (this requeue), never neither.
      try {
        await this.#requeue(lease.entries.map(({ id, value }) => ({ id, value })));
      } catch (error) {
        // Not put back: the letters are free again at once, not only once the lease ends (until then a retry or purge
        // of them would find none).
        await lease.release().catch(() => undefined);
        throw error;
      }
      await lease.ack();
      return lease.entries.length;
    });
  }

  /** Deletes dead letters for good (all, or those of `ids`), and their bodies. Resolves how many were deleted. */
  purge(ids?: readonly string[]): Promise<number> {
    return this.#serial(async () => {
      const lease = await this.#claim(ids);
      if (!lease) return 0;
      await lease.ack();
      // The records first, their bodies after (those nothing names any more): a crash between leaves bodies nothing
      // names, which a later open deletes.
      await this.#forget(lease.entries.flatMap((e) => blobKey(e.value.task) ?? []));
      return lease.entries.length;
    });
  }

  /**
   * The letters of `ids` (all, when undefined; none with the reason `except`), leased to this call: a retry and a purge in two handles at once
   * never both get a letter (the retry's task would go back while the purge deleted its body, and both count it).
   */
  async #claim(ids: readonly string[] | undefined, except?: DeadReason): Promise<Lease<DeadRecord> | undefined> {
    const records = (await this.#select(ids)).filter((r) => r.value.reason !== except);
    if (records.length === 0) return undefined;
    return this.#queue.take(records.length, { ids: records.map((r) => r.id) });
  }

  async #select(ids: readonly string[] | undefined): Promise<{ id: string; value: DeadRecord }[]> {
    const entries = await this.#queue.list();
    if (ids === undefined) return entries;
    const wanted = new Set(parseIds(ids).map(String));
    return entries.filter((e) => wanted.has(e.id));
  }
}

/**
 * Moves tasks to dead: into the dead letters first, then out of the outbox (`lease` acks those it holds). A crash
 * between leaves a task in both, which `reconcile` settles on the next open; the other order could lose it. Without
 * a lease (a task superseded or evicted as another is enqueued), they are leased first (see `claim`). Resolves the
 * records written.
 */
export async function moveToDead(
  dead: Queue<DeadRecord>,
  queue: Queue<StoredTask>,
  index: PendingIndex,
  list: readonly ToDead[],
  lease: Lease<StoredTask> | undefined,
  at: number,
): Promise<DeadRecord[]> {
  let moving = list;
  if (!lease) ({ moving, lease } = await claim(queue, index, list));
  const records = moving.map(({ entry, reason, status, error, location }): DeadRecord => ({
    task: entry.value,
    reason,
    attempts: entry.attempts,
    at,
    ...(status !== undefined && { status }),
    ...(error !== undefined && { error }),
    ...(location !== undefined && { location }),
    from: entry.id,
  }));
  if (records.length === 0) return records;
  await dead.pushMany(records);
  const ids = moving.map((d) => d.entry.id).filter((id) => id !== '');
  if (ids.length > 0) await lease!.ack(ids);
  for (const id of ids) {
    const pending = index.get(Number(id));
    if (pending) index.remove(pending);
  }
  return records;
}

/**
 * Leases the stored tasks of `list` that are still there and not leased (one never stored, entry '', needs none), so
 * that only those are buried: one another handle took meanwhile is theirs (its response decides), and one it sent or
 * removed meanwhile is gone, which a removal could not tell from those it removed itself. This handle's index learns
 * where the others are.
 */
async function claim(queue: Queue<StoredTask>, index: PendingIndex, list: readonly ToDead[]): Promise<{ moving: readonly ToDead[]; lease: Lease<StoredTask> | undefined }> {
  const ids = list.map((d) => d.entry.id).filter((id) => id !== '');
  // Those waiting for a retry are taken too: a newer task replaces them, or a budget evicts them, all the same.
  const lease = ids.length > 0 ? await queue.take(ids.length, { ids, early: true }) : undefined;
  const claimed = new Set(lease?.entries.map((e) => e.id));
  const missed = ids.filter((id) => !claimed.has(id));
  // None of them is in flight here: they were chosen, and are moved, in one turn of the outbox's serial line.
  if (missed.length > 0) index.relearn(missed.flatMap((id) => index.get(Number(id)) ?? []), await queue.list({ ids: missed }));
  return { moving: list.filter((d) => d.entry.id === '' || claimed.has(d.entry.id)), lease };
}

/** What a 'dead' event says of `record`. */
export function deadDetail({ task, reason, status, attempts, error, location }: DeadRecord): DeadDetail {
  return {
    task: publicTask(task),
    reason,
    attempts,
    ...(status !== undefined && { status }),
    ...(error !== undefined && { error }),
    ...(location !== undefined && { location }),
  };
}
