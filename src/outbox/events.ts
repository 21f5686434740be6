import type { CorruptDetail, RecoverDetail } from '../core/events.js';
import type { DeadReason } from './dead-letters.js';
import type { HttpTask } from './task.js';

/** A task as events show it: with its id, the Idempotency-Key it is sent with. */
export type TaskView = HttpTask & { id: string };

export interface SentDetail {
  readonly task: TaskView;
  readonly status: number;
  readonly attempts: number;
  /**
   * The response, in the handle that sent it, its body read already: a listener reads it whole, whenever it reads it.
   * Absent in events relayed from another tab.
   */
  readonly response?: Response;
  /** True when another handle (tab, worker) delivered it. */
  readonly remote?: boolean;
}

export interface RetryDetail {
  readonly task: TaskView;
  readonly attempts: number;
  /** When it will be tried again, from now. */
  readonly delayMs: number;
  readonly status?: number;
  /**
   * The attempt's error text, when no response came: for a CORS refusal, the 'ERR_CORS' error's message, which names
   * the origin ("CORS refused the request to …"; in a production build "ERR_CORS: refused by CORS …").
   */
  readonly error?: string;
  /** True when another handle (tab, worker) tried it. */
  readonly remote?: boolean;
}

export interface DeadDetail {
  readonly task: TaskView;
  /** The id of its dead letter: what `dead.retry` and `dead.purge` take (`DeadLetter.id`). */
  readonly letter: string;
  readonly reason: DeadReason;
  readonly status?: number;
  readonly attempts: number;
  /** The last error's message (scrubbed of header values). */
  readonly error?: string;
  /** For 'redirect': where it pointed, when the platform shows it. */
  readonly location?: string;
  readonly remote?: boolean;
}

/**
 * A service worker's outbox answered the request for the network (a 202 with 'Sluice-Queued'): it stored the
 * request as its own task, to deliver it. The task left this outbox, but it is not sent yet.
 */
export interface HandedOverDetail {
  readonly task: TaskView;
  /** The id of the task the worker stored (its 'Sluice-Queued' header): the same Idempotency-Key. */
  readonly queuedAs: string;
  readonly attempts: number;
  readonly remote?: boolean;
}

/** Options of `Outbox.flush`. */
export interface FlushOptions {
  /**
   * Ends the run at the abort (it rejects with the signal's reason): nothing more starts for it, not even the rest of a
   * group's chain; requests in flight settle as usual.
   * @default undefined: the run goes to its end
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * The caller knows the network is back (a Background Sync event, an `online` event, a page's word): tasks waiting
   * only because the network failed them, and the probe backoff, end now; waits a server asked for are kept.
   * @default false
   */
  readonly reachable?: boolean | undefined;
}

/**
 * What `flush` resolves with: tasks sent, scheduled for a retry, sent to dead and handed over to a service worker's
 * outbox during it (whichever run started their requests: another flush, a started outbox), and those left.
 */
export interface FlushResult {
  readonly sent: number;
  readonly retried: number;
  readonly dead: number;
  readonly handedOver: number;
  readonly remaining: number;
}

/** A pending task as `Outbox.list` shows it: never its headers or body. */
export interface PendingTask {
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly group?: string;
  /** Sends started so far. */
  readonly attempts: number;
  /**
   * 'ready': waiting its turn. 'sending': a request is out (here or in another tab). 'retrying': failed, waiting
   * for `nextAttemptAt`. 'scheduled': waiting for its `notBefore`.
   */
  readonly state: 'ready' | 'sending' | 'retrying' | 'scheduled';
  /** Epoch ms of the next attempt, when retrying or scheduled. */
  readonly nextAttemptAt?: number;
  /** The last attempt's HTTP status, when it got one (in this session). */
  readonly lastStatus?: number;
  /** The last attempt's error, when it got no response (in this session). */
  readonly lastError?: string;
}

/** Options of `Outbox.list`. */
export interface ListPendingOptions {
  /** Only tasks of this group. @default every group */
  readonly group?: string | undefined;
  /** At most this many. @default Infinity */
  readonly limit?: number | undefined;
  /** Only tasks in this state, or in any of these. @default every state */
  readonly state?: PendingTask['state'] | readonly PendingTask['state'][] | undefined;
}

const STATE_NAMES: readonly string[] = ['ready', 'sending', 'retrying', 'scheduled'];

/** The rule `ListPendingOptions.state` is checked by. */
export const STATES: readonly [string, (value: unknown) => boolean] = [
  "'ready', 'sending', 'retrying' or 'scheduled', or an array of them",
  (value) => (Array.isArray(value) ? value : [value]).every((s) => STATE_NAMES.includes(s as string)),
];

/** 'enqueue': the ids of the tasks this handle stored. */
export interface EnqueueDetail {
  readonly ids: readonly string[];
}

/** 'online' (`OnlineDetail<true>`) and 'offline' (`OnlineDetail<false>`): what the outbox now believes. */
export interface OnlineDetail<Online extends boolean = boolean> {
  readonly online: Online;
}

/** 'error': a failure the outbox could hand to no caller. */
export interface ErrorDetail {
  readonly error: unknown;
}

/** A queue's `CorruptDetail`, with the tasks behind its entry ids where this handle knew them. */
export interface OutboxCorruptDetail extends CorruptDetail {
  /**
   * Of the outbox's queue (not its dead letters): the ids of the tasks this handle knew under `lost` (`lost` names
   * entries of the queue, which tasks are stored as). An entry this handle never read (another handle's task, one of
   * a segment it had not reached) has none here.
   */
  readonly tasks?: readonly string[];
}

export interface OutboxEventMap {
  /** Tasks of this handle are stored (what service-worker glue registers a sync for). */
  enqueue: CustomEvent<EnqueueDetail>;
  sent: CustomEvent<SentDetail>;
  retry: CustomEvent<RetryDetail>;
  dead: CustomEvent<DeadDetail>;
  /** A service worker's outbox took the task over (see `HandedOverDetail`); it left this outbox. */
  'handed-over': CustomEvent<HandedOverDetail>;
  /** Nothing is left to deliver. `detail` is null. */
  drained: CustomEvent<null>;
  /**
   * The pending tasks changed (enqueued, sent, retried, dead, removed): what a UI listing them redraws on. Once per
   * tick however many changed; `detail` is null.
   */
  change: CustomEvent<null>;
  /** The outbox believes the network is back (a response arrived, or the platform or `setOnline` says so). */
  online: CustomEvent<OnlineDetail<true>>;
  /** A send failed with a network error, or the platform or `setOnline` says the network is gone. */
  offline: CustomEvent<OnlineDetail<false>>;
  /**
   * A failure the outbox cannot hand to a caller (a storage error during background delivery; in a browser, a request
   * to another origin that its CORS answer refused, 'ERR_CORS', once per origin every ten minutes). Until a listener is
   * added, each goes to `console.error`.
   */
  error: CustomEvent<ErrorDetail>;
  /**
   * One of the outbox's queues (`<name>`, or `<name>.dead`, as `queue` says) repaired what it found: tasks that may
   * be sent again, or ids made void. What `open` found comes a tick after it resolves.
   */
  recover: CustomEvent<RecoverDetail>;
  /**
   * Stored tasks or dead letters that cannot be read (a checksum failed, their storage is gone), named (see
   * `OutboxOptions.corruption`).
   */
  corrupt: CustomEvent<OutboxCorruptDetail>;
}
