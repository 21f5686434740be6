import { systemClock, type Clock } from '../core/clock.js';
import { STORE } from '../core/options.js';
import { check, checkedOptions, defined, noNulls, optional, optionsObject, resolvedOptions } from '../core/validate.js';
import type { Durability, Store } from '../core/store.js';
import type { Connectivity } from './connectivity.js';
import { defaultClassify, type Classify } from './classify.js';
import type { RedirectPolicy } from './redirects.js';
import { fetchable, resolveBatch } from './batch-option.js';
import { keyHeaderOf, type KeyHeader } from './key-header.js';
import { checkOutboxName, httpUrl, LIMIT_RULES, OUTBOX_OPTIONS, RETRY_RULES, RULES } from './option-rules.js';
import type { HttpTask } from './task.js';

/** Options of `OutboxOptions.retry`. */
export interface RetryOptions {
  /**
   * The ceiling of the first retry delay; each later one multiplies it by `factor` (full jitter draws below it). 0
   * retries at once: what a test's `flush` wants, and a request a turn against a failing server in background delivery.
   * From 0 to a hundred years (Infinity is refused: 'ERR_INVALID_OPTION'). @default 1000
   */
  readonly initialDelayMs?: number | undefined;
  /**
   * The largest computed delay: from 0 to a hundred years (Infinity is refused). A `Retry-After` header wins over it.
   * @default 300_000 (5 minutes)
   */
  readonly maxDelayMs?: number | undefined;
  /** @default 2 */
  readonly factor?: number | undefined;
  /**
   * Attempts after which a task that still fails goes to dead as 'max-attempts'.
   * @default Infinity
   */
  readonly maxAttempts?: number | undefined;
  /**
   * Age (from the first enqueue) after which a task that still fails goes to dead as 'max-age'; at least 1. Infinity:
   * no age limit, a failing task is retried until `maxAttempts`.
   * @default 604_800_000 (7 days)
   */
  readonly maxAgeMs?: number | undefined;
}

/**
 * Options of `OutboxOptions.batch`: many tasks' bodies sent as one JSON array. Only POSTs of JSON or plain text, with
 * no header of their own but their content type, travel in one; any other task goes alone, to its own URL.
 */
export interface BatchOptions {
  /** Where the array is POSTed (absolute, or relative to `baseUrl`). */
  readonly url: string;
  /** @default 100 */
  readonly maxItems?: number | undefined;
  /** Most bytes of JSON in one batch request (a single larger task goes alone). @default 1_048_576 */
  readonly maxBytes?: number | undefined;
}

/**
 * Options of `OutboxOptions.limits`: the storage budget of pending tasks. Each handle checks it against every handle's
 * tasks it has read, then stores: handles enqueuing at the same moment may together pass it, by what they enqueue at once.
 */
export interface LimitOptions {
  /** @default Infinity */
  readonly maxTasks?: number | undefined;
  /** Stored bytes of pending tasks. @default Infinity */
  readonly maxBytes?: number | undefined;
  /**
   * 'reject': `enqueue` rejects with 'ERR_QUOTA_EXCEEDED'. 'drop-oldest': the oldest tasks not in flight go to dead
   * as 'evicted' to make room.
   * @default 'reject'
   */
  readonly overflow?: 'reject' | 'drop-oldest' | undefined;
}


/** What the `fetch` option may resolve with: a `Response`, or one like it (a polyfill's, a test's fake). */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The `fetch` option: called as `fetch` is, with a task's absolute URL and its init, or with a live request (`Outbox.fetch`). */
export type Transport = (input: string | Request, init?: RequestInit) => Promise<Response | ResponseLike>;
/** Options of `Outbox.open`. */
export interface OutboxOptions {
  /** The outbox's name: 1–123 characters of `[A-Za-z0-9._-]`, not `.`, `..` nor ending in `.dead`. Dead letters live in `<name>.dead`. */
  readonly name: string;
  /** @default the platform's store */
  readonly store?: Store | undefined;
  /**
   * Relative task URLs resolve against it, as URLs do: with 'https://api.example.com/v1/', 'notes' goes to '…/v1/notes'
   * and '/notes' to 'https://api.example.com/notes'. A path-relative URL ('notes') against a path without its closing
   * '/' ('…/v1') is refused: it would lose 'v1'. @default undefined: task URLs must be absolute
   */
  readonly baseUrl?: string | undefined;
  /**
   * The transport: resolves with a Response, or one like it (a polyfill's). Anything else fails the attempt (retried).
   * @default globalThis.fetch, read at each send
   */
  readonly fetch?: Transport | undefined;
  /**
   * Headers computed for each send (tokens, say) and never stored. One that throws fails the attempt (a retry, as a
   * 5xx is): a token endpoint out of reach must not bury the task. @default undefined
   */
  readonly headers?: (() => Record<string, string> | Promise<Record<string, string>>) | undefined;
  /** Requests in flight at once. @default 4 */
  readonly concurrency?: number | undefined;
  /**
   * 'group': tasks of one group in enqueue order, groups in parallel (a failing group holds back only itself).
   * 'fifo': one ordered stream. 'none': no order kept.
   * @default 'group'
   */
  readonly ordering?: 'group' | 'fifo' | 'none' | undefined;
  /** @default { initialDelayMs: 1000, maxDelayMs: 300_000, factor: 2, maxAttempts: Infinity, maxAgeMs: 7 days } */
  readonly retry?: RetryOptions | undefined;
  /**
   * The time limit of one attempt, whatever the server does: the `headers()` provider, `onBeforeSend`, connecting,
   * the response's headers and reading its body. Past it the request is aborted and the attempt counts as a retry.
   * `flush`, `stop`, `close` and `fetch` settle within it (plus a storage commit). Measured on the clock's monotonic
   * reading, so a wall-clock step does not change it. From 1 ms to a hundred years (Infinity is refused: it bounds those).
   * @default 30_000
   */
  readonly timeoutMs?: number | undefined;
  /**
   * Requests go out with fetch's `redirect: 'manual'`, and a redirect is never success: a task is sent only on a
   * final 2xx from the URL it was sent to. 'error': a redirect sends the task to dead as 'redirect', with the status
   * and the Location (where the platform shows it; browsers hide it). 'follow-same-origin': redirects within the
   * task's origin are followed (up to 5; 307 and 308 keep method and body, 301, 302 and 303 turn into a GET as fetch
   * does), one to another origin is dead as 'redirect'; the task's and `headers()`'s headers never reach another
   * origin either way.
   * @default 'error'
   */
  readonly redirect?: RedirectPolicy | undefined;
  /**
   * The largest request body a task may have, in bytes, wherever it is kept: Blobs, files, FormData, streams, and
   * bytes, text and JSON over 64 KB are stored beside the task (in the store's blobs, in chunks) and streamed when
   * sent. A larger body makes `enqueue` reject with 'ERR_ITEM_TOO_LARGE', storing nothing. Counted in
   * `limits.maxBytes`.
   * @default 52_428_800 (50 MiB)
   */
  readonly maxBodyBytes?: number | undefined;
  /**
   * Synchronous. Any other return (a missing `return`, a Promise) or a throw leaves the task pending and emits
   * `error` ('ERR_INVALID_OPTION' for a bad return), rather than retrying it for ever unseen.
   * @default 2xx sent; 408, 425, 429, 5xx, network errors and timeouts retry; other statuses dead
   */
  readonly classify?: Classify | undefined;
  /** @default undefined: one request per task */
  readonly batch?: BatchOptions | undefined;
  /**
   * The header every request carries the task's id in (a batch: its `batchKey`), for the server to deduplicate
   * retries by; matched whatever its case. `false` sends none, so that a request to another origin with only
   * CORS-safelisted headers needs no preflight, for an API whose CORS answer allows no such header: delivery stays
   * at-least-once, and that server can no longer tell a repeat by a header; `fetch()` is refused (see `Outbox.fetch`).
   * @default 'Idempotency-Key'
   */
  readonly idempotencyHeader?: string | false | undefined;
  /**
   * Edit a task just before it is sent, or return false to skip it (dead as 'skipped'). Without `batch`, a task's
   * 'sent' event is told before the next task of its group is built, so a task may be built from what the one before
   * it got. With `batch`, a task chosen for a batch must stay one a batch can carry (a POST of JSON or plain text, no
   * header of its own): otherwise it is dead as 'invalid'. @default undefined
   */
  readonly onBeforeSend?: ((task: HttpTask & { id: string }) => HttpTask | false | Promise<HttpTask | false>) | undefined;
  /** @default 'relaxed' */
  readonly durability?: Durability | undefined;
  /**
   * What the outbox's queues do with stored tasks or dead letters that fail their checksum: 'throw' rejects with
   * 'ERR_CORRUPT' (`open` too, when it meets them) until someone decides; 'skip' sets them aside, counted as lost in
   * a 'corrupt' event.
   * @default 'throw'
   */
  readonly corruption?: 'throw' | 'skip' | undefined;
  /** @default no limits */
  readonly limits?: LimitOptions | undefined;
  /**
   * Browsers: on 'pagehide', send this handle's pending tasks that are due now (not waiting out a retry delay, a
   * Retry-After or `notBefore`, not expired) and fit in keepalive requests (64 KB); with ordering, only the first task
   * still stored of each group ('fifo': of the outbox). Never with `headers`, `onBeforeSend` or `batch` (a keepalive
   * request is built synchronously as the page hides, so they cannot be awaited). The tasks stay stored until a
   * response is seen, so the next session may send them again, with the same Idempotency-Key. A page back from the
   * back/forward cache sends nothing till those requests have ended (or `timeoutMs` passed: see README).
   * @default true
   */
  readonly unloadFlush?: boolean | undefined;
  /** Where 'pagehide' (and 'pageshow') is listened for: any EventTarget. Pass one only to test. @default globalThis */
  readonly page?: EventTarget | undefined;
  /**
   * The source of time: `now()` for what is stored (retry times, `notBefore`, `expiresAt`), `monotonic()` where it
   * has one for what is measured in the process (timeouts, the probe backoff), timers for waits.
   * @default the store's `clock` where it has one (RedisStore: the Redis server's time), else the system clock
   * (`Date.now`, `performance.now`)
   */
  readonly clock?: Clock | undefined;
  /** Uniform in [0, 1), for jitter (a draw outside is taken as the nearest inside; one that is no number as 1). @default Math.random */
  readonly random?: (() => number) | undefined;
  /** Online/offline hints. @default the platform's (browser events where present, none in Node) */
  readonly connectivity?: Connectivity | undefined;
  /**
   * The partitions of the outbox's queue (see `QueueOptions.partitions`), so that handles on many processes deliver
   * without contending: the tasks of an ordering lane stay in one partition, so the order that `ordering` keeps
   * holds ('group': a group, and the ungrouped tasks together; 'fifo': every task, so it gains nothing; 'none':
   * tasks go to the partitions in turn). `enqueueMany` is all or nothing per partition; when one partition's share
   * fails, the shares stored before it are removed again. Dead letters stay in one partition. Opening with another
   * count than the outbox was made with is refused with 'ERR_INVALID_OPTION' unless it is empty (then it changes).
   * @default 1
   */
  readonly partitions?: number | undefined;
}

export interface ResolvedOutboxOptions {
  readonly name: string;
  readonly store: Store | undefined;
  readonly baseUrl: string | undefined;
  readonly fetch: Transport | undefined;
  readonly headers: OutboxOptions['headers'];
  readonly concurrency: number;
  readonly ordering: 'group' | 'fifo' | 'none';
  readonly retry: Required<RetryOptions>;
  readonly timeoutMs: number;
  readonly redirect: RedirectPolicy;
  readonly maxBodyBytes: number;
  readonly classify: Classify;
  readonly batch: Required<BatchOptions> | undefined;
  /** `batch.url`, absolute. */
  readonly batchUrl: string | undefined;
  readonly idempotencyHeader: string | false;
  /** `idempotencyHeader` lower-cased, or undefined for `false`. */
  readonly keyHeader: KeyHeader;
  readonly onBeforeSend: OutboxOptions['onBeforeSend'];
  readonly durability: Durability;
  readonly corruption: 'throw' | 'skip';
  readonly limits: Required<LimitOptions>;
  readonly unloadFlush: boolean;
  readonly page: EventTarget | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly connectivity: Connectivity | undefined;
  readonly partitions: number;
}

/** Defaults merged once and every option checked at once; the caller's object is left alone. */
export function resolveOutboxOptions(options: OutboxOptions, defaultStore?: () => Store): ResolvedOutboxOptions {
  checkedOptions(options, 'options', OUTBOX_OPTIONS);
  checkOutboxName(options.name);
  noNulls(options, { store: STORE, ...RULES });
  check(options, { baseUrl: optional(httpUrl(undefined)) });
  // Every task relative to this base would be refused at enqueue.
  if (options.baseUrl !== undefined) fetchable('baseUrl', new URL(options.baseUrl));
  const retry: Required<RetryOptions> = {
    initialDelayMs: 1000,
    maxDelayMs: 300_000,
    factor: 2,
    maxAttempts: Infinity,
    maxAgeMs: 7 * 24 * 3600_000,
    ...defined(optionsObject(options.retry, 'retry', Object.keys(RETRY_RULES))),
  };
  check(retry, RETRY_RULES, 'retry.');
  const limits: Required<LimitOptions> = { maxTasks: Infinity, maxBytes: Infinity, overflow: 'reject', ...defined(optionsObject(options.limits, 'limits', Object.keys(LIMIT_RULES))) };
  check(limits, LIMIT_RULES, 'limits.');
  const batch = resolveBatch(options.batch, options.baseUrl);
  const resolved: ResolvedOutboxOptions = {
    name: options.name,
    store: options.store ?? defaultStore?.(),
    baseUrl: options.baseUrl,
    fetch: options.fetch,
    headers: options.headers,
    concurrency: options.concurrency ?? 4,
    ordering: options.ordering ?? 'group',
    retry,
    timeoutMs: options.timeoutMs ?? 30_000,
    redirect: options.redirect ?? 'error',
    maxBodyBytes: options.maxBodyBytes ?? 50 * 1024 * 1024,
    classify: options.classify ?? defaultClassify,
    batch,
    batchUrl: batch && new URL(batch.url, options.baseUrl).href,
    idempotencyHeader: options.idempotencyHeader ?? 'Idempotency-Key',
    keyHeader: undefined,
    onBeforeSend: options.onBeforeSend,
    durability: options.durability ?? 'relaxed',
    corruption: options.corruption ?? 'throw',
    limits,
    unloadFlush: options.unloadFlush ?? true,
    page: options.page,
    clock: options.clock ?? options.store?.clock ?? systemClock,
    random: options.random ?? Math.random,
    connectivity: options.connectivity,
    partitions: options.partitions ?? 1,
  };
  check(resolved, RULES);
  return resolvedOptions({ ...resolved, keyHeader: keyHeaderOf(resolved.idempotencyHeader) });
}
