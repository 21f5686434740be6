/** What the pending index keeps of a task, and the lanes that ordering puts tasks in. */
import { SluiceError } from '../core/errors.js';
import { PARTITION_SPAN } from '../core/ids.js';
import type { Lease } from '../core/queue-types.js';
import { isStoredBody, newerBody } from './body.js';
import { blobKey, taskBytes, type StoredTask } from './task.js';

export type Ordering = 'group' | 'fifo' | 'none';

/**
 * Why a task waits: a network failure (a success elsewhere ends it), the server's word (a status, Retry-After), its
 * own schedule (`notBefore`), or another handle's lease on it.
 */
export type WaitCause = 'network' | 'server' | 'schedule' | 'lease';

/** A pending task as the index keeps it: what scheduling needs, without its body. */
export interface Pending {
  /** Its entry id in the outbox's queue, as a number: queue order. */
  readonly seq: number;
  readonly id: string;
  readonly lane: string | undefined;
  /** 0 high, 1 normal, 2 low. */
  readonly rank: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  /** When it was stored (or put back by a dead-letter retry). */
  readonly createdAt: number;
  readonly key: string | undefined;
  /** What it takes in storage, near enough for `limits`. */
  readonly bytes: number;
  readonly group: string | undefined;
  /** Where its request goes (`scheme://host:port`): a success there ends the network waits of that origin alone. */
  readonly origin: string;
  /** The key of its body stored beside it, if it has one: deleted once the task leaves for good. */
  readonly blob: string | undefined;
  /**
   * 'ready': may go. 'busy': taken by this handle (buffered, in flight or settling). 'waiting': until `until`
   * (a retry delay, another handle's lease, `notBefore`). 'parked': tried in this flush, not again before it ends.
   */
  state: 'ready' | 'busy' | 'waiting' | 'parked';
  until: number;
  cause: WaitCause | undefined;
  /** Requests it made: the queue's count of takes, from which takes given back untried are taken off. */
  attempts: number;
  /**
   * Its network wait was ended early by a success at its origin: should it fail with a network error again, its
   * host is there and the request is what fails (one the server resets every time), so it waits its backoff.
   */
  hurried?: boolean;
  /**
   * When (monotonic) its request last failed at its host as a host's do (a network error, a CORS refusal, no answer in
   * time); undefined: never. While that host has not answered since, its tasks that have not failed so are tried there
   * first, and of those that have, the one whose failure is oldest (see `SuspectSlots.limits`).
   */
  failedHere?: number | undefined;
  /** The last HTTP status or error, for `Outbox.list()` (kept in memory only). */
  last?: { readonly status?: number; readonly error?: string };
  /**
   * The latest end of a delay the queue may hold for it that this index knows of (a retry's, from this handle,
   * another's word, or its entry; 0: none): the index's own word on when it goes stands over a stored delay that
   * ends by then (see `Dispatcher`). A later one was set elsewhere, by a process this one does not hear (a
   * Retry-After), and is kept to: the take passes the task over and the index learns of it.
   */
  storedUntil: number;
  /**
   * A lease this handle did not settle held it (another handle's, or its own after a failed ack): the holder may have
   * died moving it to dead, its letter written and the task not yet removed. Looked into at its next take (kept
   * until a take gets it); so is a task read in already tried, or taken with attempts this handle did not see.
   */
  heldAway: boolean;
  /**
   * The dead letter a retry put it back from, until this handle finds that letter gone (or deletes it, see
   * `DeadMoves.finishCutShort`): looked for at its takes till then.
   */
  retriedFrom: string | undefined;
  /**
   * The lease this handle took it under ahead of its request (behind its lane's head in flight, or buffered for a
   * slot), until that request starts: then it is in flight. Until then it is pending all the same (see `recall`).
   */
  ahead: Lease<StoredTask> | undefined;
  /**
   * A newer task with its `key` came while it could not be replaced (its request out): a failed attempt is then its
   * last, dead as 'superseded', since a retry would put older data over newer (see `addKeyed`).
   */
  outdated: boolean;
  /**
   * In batch mode, the entry ids of the batch its last request carried, in order, while that batch waits for its
   * retry: kept together, it goes again under the same Idempotency-Key (kept in memory only).
   */
  batchedWith?: readonly string[];
  /** That batch got no answer within the time limit: again, and it goes in halves (see `BatchFit.tooSlow`). */
  batchTimedOut?: boolean;
  /** Its bytes in a batch, as `batch.maxBytes` counts them, once measured (see `entryBytes`). */
  batchBytes?: number;
}

/**
 * Whether `p` would be sent at `now` if delivery took it: ready, or waiting with its wait over (a retry's delay, a
 * Retry-After, `notBefore`); not busy (in flight) nor parked; not expired (delivery moves those to dead). Another
 * handle's lease is never over by its `until`, which is only when to ask the queue again. `PendingIndex.take` also
 * takes those two (to bury them, to ask the queue); this is for when nothing can be asked (the page hiding).
 */
export function isDue(p: Pending, now: number): boolean {
  return (p.state === 'ready' || (p.state === 'waiting' && p.cause !== 'lease')) && p.until <= now && p.expiresAt > now;
}

/** Whether this handle has a request out for `p`: taken, and no longer only ahead of its request (see `recall`). */
export function inFlight(p: Pending): boolean {
  return p.state === 'busy' && !p.ahead;
}

/** The origin of an absolute URL, as stored (`scheme://authority`): a string cut, not a parse, on every task read in. */
export function originOf(url: string): string {
  const end = url.indexOf('/', url.indexOf('//') + 2);
  return end < 0 ? url : url.slice(0, end);
}

/** Priorities as ranks: lower goes first. */
export const RANK = { high: 0, normal: 1, low: 2 } as const;

/** How long a task leased by another handle waits before the queue is asked again whether the lease still holds. */
export const LEASE_RECHECK_MS = 5_000;

/**
 * Which of two tasks was stored first, as far as the clocks of the handles that stored them tell: by when, then by
 * place within their partition (ids of partition p start at p * 2^40; each partition numbers its items on its own).
 */
export const byAge = (a: Pending, b: Pending): number => a.createdAt - b.createdAt || (a.seq % PARTITION_SPAN) - (b.seq % PARTITION_SPAN) || a.seq - b.seq;

/** Which of two tasks goes first in an outbox of one partition: by priority, then queue order. */
export const byPlace = (a: Pending, b: Pending): number => a.rank - b.rank || a.seq - b.seq;

/**
 * Which of two tasks goes first in an outbox of several partitions: by priority, then by `byAge`, so that a partition
 * whose numbers ran ahead (it took more tasks before) does not wait behind every task of the others stored after.
 * Only there: with one partition, a wall clock stepped back, or two machines' clocks, would reorder the queue.
 */
export const byTurn = (a: Pending, b: Pending): number => a.rank - b.rank || byAge(a, b);

/** The ordering lane of a task: tasks of one lane go out in queue order, and a lane waits for no other. */
export function laneOf(task: { readonly group?: string | undefined }, ordering: Ordering): string | undefined {
  if (ordering === 'none') return undefined;
  return ordering === 'fifo' ? '' : (task.group ?? '');
}

/**
 * Refuses a stored value that is no outbox task: the outbox was opened on a Queue's name, or on another outbox's dead
 * letters (`<name>.dead`). Read on, it would be a TypeError deep in the index, or a record sent as a request.
 */
export function checkStored(value: unknown, queue: string, id: string, what = 'outbox task'): void {
  const task = value as Partial<StoredTask> | null;
  if (typeof task?.url === 'string' && typeof task.id === 'string' && typeof task.method === 'string') {
    if (task.body === undefined || isStoredBody(task.body)) return;
    throw newerBody(task.id);
  }
  throw new SluiceError(
    'ERR_INCOMPATIBLE_STORE',
    `Queue "${queue}" holds an item that is no ${what} (id ${id}): it is a Queue's, or another outbox's queue (an outbox keeps its tasks in "<outbox>", its dead letters in "<outbox>.dead"). Open it as what it is, or give the outbox another name.`,
  );
}

/** As `checkStored`, for an item of an outbox's dead letters: a letter, whose task is checked as a task is. */
export function checkLetter(value: unknown, queue: string, id: string): void {
  const letter = value as { task?: unknown; reason?: unknown } | null;
  checkStored(typeof letter?.reason === 'string' ? letter.task : undefined, queue, id, 'dead letter');
}

/**
 * Whether `a` and `b` are the same task, not only the same task id (a user's, which tasks may share): by its id and
 * time of storing. An entry's id names another task once the store went back and a handle that never knew the lost one
 * stored under it (see `PendingStore.catchUp`); a dead letter names the entry it was written for.
 */
export function sameTask(a: Pick<StoredTask, 'id' | 'createdAt'>, b: Pick<StoredTask, 'id' | 'createdAt'>): boolean {
  return a.id === b.id && a.createdAt === b.createdAt;
}

/** A task stored as entry `seq` as the index keeps it: ready, until the index says otherwise. */
export function pendingOf(seq: number, task: StoredTask, attempts: number, ordering: Ordering): Pending {
  return {
    seq,
    id: task.id,
    lane: laneOf(task, ordering),
    rank: RANK[task.priority ?? 'normal'],
    notBefore: task.notBefore ?? 0,
    expiresAt: task.expiresAt ?? Infinity,
    createdAt: task.createdAt,
    key: task.key,
    bytes: taskBytes(task),
    group: task.group,
    origin: originOf(task.url),
    blob: blobKey(task),
    state: 'ready',
    until: 0,
    cause: undefined,
    attempts,
    storedUntil: 0,
    heldAway: false,
    retriedFrom: task.retriedFrom,
    ahead: undefined,
    outdated: false,
    hurried: false,
    failedHere: undefined,
  };
}
