import type { Lease, ListOptions } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { parseIds } from '../core/ids.js';
import { serial } from '../core/serial.js';
import type { DeadDetail } from './events.js';
import type { Requeued } from './dead-moves.js';
import { blobKey, publicTask, type HttpTask, type StoredTask } from './task.js';
import { eachPage } from './pages.js';
import { checkLetter } from './pending-task.js';

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
  | 'invalid' // its request could not be built: `onBeforeSend` threw, or it or `headers()` returned what fetch refuses
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
  /** The last error's message, where an error ended the last attempt (a network failure, a timeout, a hook that threw), scrubbed of header values. */
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
export interface DeadLetters {
  /** Dead letters, oldest first: at most `limit`, after the letter `after` (the last id of a previous page), or only `ids`. */
  list(options?: ListOptions): Promise<DeadLetter[]>;
  /** How many dead letters there are. */
  size(): Promise<number>;
  /**
   * Puts dead tasks back into the outbox (all, or those of `ids`) with their ids, so the server sees the same
   * Idempotency-Key, and fresh attempts and age. All of them but the superseded: a newer task with the same `key`
   * replaced those, and sending them after it would put older data over newer (name them to retry them all the same).
   * They count against `limits` as enqueued tasks do: 'reject' refuses the retry ('ERR_QUOTA_EXCEEDED', all stay dead),
   * 'drop-oldest' evicts the oldest pending tasks to make room. Resolves how many went back; a rejection leaves every
   * letter dead and nothing put back (a task stored all the same by a commit whose reply was lost is found, and the
   * retry goes on; where that cannot be told, the retry may finish after all: a task it stored deletes its letter
   * when first taken, before it is sent, and a later retry or purge of the letter takes such a task out first).
   */
  retry(ids?: readonly string[]): Promise<number>;
  /**
   * Deletes dead letters for good (all, or those of `ids`), and their bodies. Resolves how many were deleted. A letter
   * whose move to dead was cut short, its task still pending, takes that task with it (sent after all, it would be
   * both); one whose task is in flight then stays dead for now.
   */
  purge(ids?: readonly string[]): Promise<number>;
}

/** `DeadLetters` over the outbox's queue of them. An interface for users: a class's private fields would be part of its type. */
export class DeadLetterQueue implements DeadLetters {
  readonly #queue: Queue<DeadRecord>;
  readonly #requeue: (letters: { id: string; value: DeadRecord }[]) => Promise<Requeued>;
  readonly #forget: (bodies: string[]) => Promise<void>;
  readonly #finish: (letters: { id: string; value: DeadRecord }[]) => Promise<ReadonlySet<string>>;
  readonly #checkOpen: () => void;
  /** Retries and purges of this handle, one at a time: a purge never deletes a body that a retry just put back. */
  readonly #serial = serial();

  /**
   * @internal The outbox makes it; `requeue` puts tasks back into the outbox with their ids, `forget` deletes the
   * bodies of purged tasks stored beside them, `finish` removes the tasks that moves to dead cut short left pending
   * (resolving the letters whose task is in flight: see `DeadMoves.finishBefore`), `checkOpen` throws 'ERR_CLOSED'
   * naming the outbox once it is closed (the queue underneath would name itself, "api.dead").
   */
  constructor(
    queue: Queue<DeadRecord>,
    requeue: (letters: { id: string; value: DeadRecord }[]) => Promise<Requeued>,
    forget: (bodies: string[]) => Promise<void>,
    finish: (letters: { id: string; value: DeadRecord }[]) => Promise<ReadonlySet<string>>,
    checkOpen: () => void,
  ) {
    this.#queue = queue;
    this.#requeue = requeue;
    this.#forget = forget;
    this.#finish = finish;
    this.#checkOpen = checkOpen;
  }

  async list(options: ListOptions = {}): Promise<DeadLetter[]> {
    this.#checkOpen();
    const entries = await this.#queue.list(options);
    return entries.map(({ id, value }) => {
      checkLetter(value, this.#queue.name, id);
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
    const keys: string[] = [];
    await eachPage(this.#queue, (page) => {
      for (const e of page) {
        const key = blobKey(e.value.task);
        if (key !== undefined) keys.push(key);
      }
    });
    return keys;
  }

  async size(): Promise<number> {
    this.#checkOpen();
    return this.#queue.size();
  }

  retry(ids?: readonly string[]): Promise<number> {
    return this.#serial(async () => {
      this.#checkOpen();
      const lease = await this.#claim(ids, ids === undefined ? 'superseded' : undefined);
      if (!lease) return 0;
      // Into the outbox first, then out of here: a crash between leaves the task in both, and the outbox's open
      // keeps the newer of the two (this requeue), never neither.
      let requeued: Requeued;
      try {
        requeued = await this.#requeue(lease.entries.map(({ id, value }) => ({ id, value })));
      } catch (error) {
        // Not put back: the letters are free again at once, not only once the lease ends (until then a retry or purge
        // of them would find none).
        await lease.release().catch(() => undefined);
        throw error;
      }
      try {
        // A letter whose task is in flight, left by a move cut short, stays dead for now (see `DeadMoves.requeue`).
        if (requeued.kept.length > 0) await lease.release(requeued.kept);
        await lease.ack();
      } catch (error) {
        // The ack may have deleted the letters all the same (a commit whose reply was lost): then the retry is done,
        // and taking the tasks out again would lose them.
        const acked = lease.entries.filter((e) => !requeued.kept.includes(e.id)).map((e) => e.id);
        const standing = await this.#queue.list({ ids: acked }).then((found) => found.length > 0, () => undefined);
        if (standing === false) {
          requeued.announce();
          return acked.length;
        }
        // Rejected, the retry must have changed nothing: the tasks put back are taken out again. Should that fail too
        // (or a task be in flight already), or where whether the letters stand cannot be told, the tasks stay, and the
        // retry finishes after all: whichever handle takes one deletes its letter first (see `DeadMoves.finishCutShort`),
        // as the next open does (see `reconcile`). Never both sent and dead.
        if (standing) await requeued.withdraw().catch(() => undefined);
        await lease.release().catch(() => undefined);
        throw error;
      }
      requeued.announce();
      return lease.entries.length - requeued.kept.length;
    });
  }

  purge(ids?: readonly string[]): Promise<number> {
    return this.#serial(async () => {
      this.#checkOpen();
      const lease = await this.#claim(ids);
      if (!lease) return 0;
      let kept: ReadonlySet<string>;
      try {
        kept = await this.#finish(lease.entries.map(({ id, value }) => ({ id, value })));
        if (kept.size > 0) await lease.release([...kept]);
        await lease.ack();
      } catch (error) {
        await lease.release().catch(() => undefined);
        throw error;
      }
      const gone = lease.entries.filter((e) => !kept.has(e.id));
      // The records first, their bodies after (those nothing names any more): a crash between leaves bodies nothing
      // names, which a later open deletes.
      await this.#forget(gone.flatMap((e) => blobKey(e.value.task) ?? []));
      return gone.length;
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

/** What a 'dead' event says of `record`, stored as dead letter `letter`. */
export function deadDetail({ task, reason, status, attempts, error, location }: DeadRecord, letter: string): DeadDetail {
  return {
    task: publicTask(task),
    letter,
    reason,
    attempts,
    ...(status !== undefined && { status }),
    ...(error !== undefined && { error }),
    ...(location !== undefined && { location }),
  };
}
