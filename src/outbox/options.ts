import { systemClock, type Clock } from '../core/clock.js';
import { checkName } from '../core/options.js';
import { check, invalid, oneOf } from '../core/validate.js';
import type { Durability, Store } from '../core/store.js';
import type { Connectivity } from './connectivity.js';
import { defaultClassify, type Classify } from './classify.js';
import type { HttpTask } from './task.js';

/** Options of `OutboxOptions.retry`. */
export interface RetryOptions {
  /**
   * The ceiling of the first retry delay; each later one multiplies it by `factor` (full jitter draws below it).
   * @default 1000
   */
  readonly initialDelayMs?: number;
  /**
   * The largest computed delay. A `Retry-After` header wins over it.
   * @default 300_000 (5 minutes)
   */
  readonly maxDelayMs?: number;
  /** @default 2 */
  readonly factor?: number;
  /**
   * Attempts after which a task that still fails goes to dead as 'max-attempts'.
   * @default Infinity
   */
  readonly maxAttempts?: number;
  /**
   * Age (from the first enqueue) after which a task that still fails goes to dead as 'max-age'.
   * @default 604_800_000 (7 days)
   */
  readonly maxAgeMs?: number;
}

/** Options of `OutboxOptions.batch`: many tasks' bodies sent as one JSON array. */
export interface BatchOptions {
  /** Where the array is POSTed (absolute, or relative to `baseUrl`). */
  readonly url: string;
  /** @default 100 */
  readonly maxItems?: number;
  /** Most bytes of JSON in one batch request (a single larger task goes alone). @default 1_048_576 */
  readonly maxBytes?: number;
}

/** Options of `OutboxOptions.limits`: the storage budget. */
export interface LimitOptions {
  /** @default Infinity */
  readonly maxTasks?: number;
  /** Stored bytes of pending tasks. @default Infinity */
  readonly maxBytes?: number;
  /**
   * 'reject': `enqueue` rejects with 'ERR_QUOTA_EXCEEDED'. 'drop-oldest': the oldest tasks not in flight go to dead
   * as 'evicted' to make room.
   * @default 'reject'
   */
  readonly overflow?: 'reject' | 'drop-oldest';
}

/** Options of `Outbox.open`. */
export interface OutboxOptions {
  /** The outbox's name (a queue name: 1–128 characters of `[A-Za-z0-9._-]`). Dead letters live in `<name>.dead`. */
  readonly name: string;
  /** @default the platform's store */
  readonly store?: Store;
  /** Relative task URLs resolve against it. @default undefined: task URLs must be absolute */
  readonly baseUrl?: string;
  /** The transport. @default globalThis.fetch, read at each send */
  readonly fetch?: typeof fetch;
  /** Headers computed for each send (tokens, say) and never stored. @default undefined */
  readonly headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Requests in flight at once. @default 4 */
  readonly concurrency?: number;
  /**
   * 'group': tasks of one group in enqueue order, groups in parallel (a failing group holds back only itself).
   * 'fifo': one ordered stream. 'none': no order kept.
   * @default 'group'
   */
  readonly ordering?: 'group' | 'fifo' | 'none';
  /** @default { initialDelayMs: 1000, maxDelayMs: 300_000, factor: 2, maxAttempts: Infinity, maxAgeMs: 7 days } */
  readonly retry?: RetryOptions;
  /** Per request; past it the request is aborted and retried. @default 30_000 */
  readonly timeoutMs?: number;
  /** @default 2xx sent; 408, 425, 429, 5xx, network errors and timeouts retry; other statuses dead */
  readonly classify?: Classify;
  /** @default undefined: one request per task */
  readonly batch?: BatchOptions;
  /** Edit a task just before it is sent, or return false to skip it (dead as 'skipped'). @default undefined */
  readonly onBeforeSend?: (task: HttpTask & { id: string }) => HttpTask | false | Promise<HttpTask | false>;
  /** @default 'relaxed' */
  readonly durability?: Durability;
  /** @default no limits */
  readonly limits?: LimitOptions;
  /**
   * Browsers: on 'pagehide', send this handle's pending tasks that fit in keepalive requests (64 KB), with
   * ordering 'none' only (with ordering, older stored tasks must go first). They stay stored until a response is
   * seen, so the next session may send them again, with the same Idempotency-Key.
   * @default true
   */
  readonly unloadFlush?: boolean;
  /** Where 'pagehide' is listened for. Pass one only to test. @default globalThis */
  readonly page?: EventTarget;
  /** The source of time for delays, timeouts and probes. @default the system clock */
  readonly clock?: Clock;
  /** Uniform in [0, 1), for jitter. @default Math.random */
  readonly random?: () => number;
  /** Online/offline hints. @default the platform's (browser events where present, none in Node) */
  readonly connectivity?: Connectivity;
}

export interface ResolvedOutboxOptions {
  readonly name: string;
  readonly store: Store | undefined;
  readonly baseUrl: string | undefined;
  readonly fetch: typeof fetch | undefined;
  readonly headers: OutboxOptions['headers'];
  readonly concurrency: number;
  readonly ordering: 'group' | 'fifo' | 'none';
  readonly retry: Required<RetryOptions>;
  readonly timeoutMs: number;
  readonly classify: Classify;
  readonly batch: Required<BatchOptions> | undefined;
  /** `batch.url`, absolute. */
  readonly batchUrl: string | undefined;
  readonly onBeforeSend: OutboxOptions['onBeforeSend'];
  readonly durability: Durability;
  readonly limits: Required<LimitOptions>;
  readonly unloadFlush: boolean;
  readonly page: EventTarget | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly connectivity: Connectivity | undefined;
}

function count(option: string, value: number, min: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (value !== Infinity && !Number.isInteger(value))) {
    invalid(option, `an integer >= ${min} (or Infinity)`, value);
  }
}

function duration(option: string, value: number, min = 0): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) invalid(option, `a number >= ${min}`, value);
}

function fn(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') invalid(option, 'a function', value);
}

/** Defaults merged once and every option checked at once; the caller's object is left alone. */
export function resolveOutboxOptions(options: OutboxOptions): ResolvedOutboxOptions {
  if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
  checkName(options.name);
  if (options.name.length > 123) invalid('name', 'at most 123 characters (the dead letters take `<name>.dead`)', options.name);
  if (options.baseUrl !== undefined) {
    try {
      new URL(options.baseUrl);
    } catch {
      invalid('baseUrl', 'an absolute URL', options.baseUrl);
    }
  }
  const r = options.retry ?? {};
  const retry: Required<RetryOptions> = {
    initialDelayMs: r.initialDelayMs ?? 1000,
    maxDelayMs: r.maxDelayMs ?? 300_000,
    factor: r.factor ?? 2,
    maxAttempts: r.maxAttempts ?? Infinity,
    maxAgeMs: r.maxAgeMs ?? 7 * 24 * 3600_000,
  };
  duration('retry.initialDelayMs', retry.initialDelayMs);
  duration('retry.maxDelayMs', retry.maxDelayMs);
  duration('retry.factor', retry.factor, 1);
  count('retry.maxAttempts', retry.maxAttempts, 1);
  duration('retry.maxAgeMs', retry.maxAgeMs, 1);
  const l = options.limits ?? {};
  const limits: Required<LimitOptions> = { maxTasks: l.maxTasks ?? Infinity, maxBytes: l.maxBytes ?? Infinity, overflow: l.overflow ?? 'reject' };
  count('limits.maxTasks', limits.maxTasks, 1);
  count('limits.maxBytes', limits.maxBytes, 1);
  check(limits, { overflow: oneOf('reject', 'drop-oldest') }, 'limits.');
  let batch: Required<BatchOptions> | undefined;
  if (options.batch !== undefined) {
    if (typeof options.batch !== 'object' || options.batch === null || typeof options.batch.url !== 'string') {
      invalid('batch', 'an object with a `url`', options.batch);
    }
    batch = { url: options.batch.url, maxItems: options.batch.maxItems ?? 100, maxBytes: options.batch.maxBytes ?? 1 << 20 };
    let url: URL | undefined;
    try {
      url = new URL(batch.url, options.baseUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) invalid('batch.url', 'an http(s) URL, absolute or relative to `baseUrl`', batch.url);
    count('batch.maxItems', batch.maxItems, 1);
    count('batch.maxBytes', batch.maxBytes, 1);
  }
  const resolved: ResolvedOutboxOptions = {
    name: options.name,
    store: options.store,
    baseUrl: options.baseUrl,
    fetch: options.fetch,
    headers: options.headers,
    concurrency: options.concurrency ?? 4,
    ordering: options.ordering ?? 'group',
    retry,
    timeoutMs: options.timeoutMs ?? 30_000,
    classify: options.classify ?? defaultClassify,
    batch,
    batchUrl: batch && new URL(batch.url, options.baseUrl).href,
    onBeforeSend: options.onBeforeSend,
    durability: options.durability ?? 'relaxed',
    limits,
    unloadFlush: options.unloadFlush ?? true,
    page: options.page,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    connectivity: options.connectivity,
  };
  count('concurrency', resolved.concurrency, 1);
  if (resolved.concurrency === Infinity) invalid('concurrency', 'a finite integer >= 1', resolved.concurrency);
  check(resolved, { ordering: oneOf('group', 'fifo', 'none') });
  duration('timeoutMs', resolved.timeoutMs, 1);
  check(resolved, { durability: oneOf('strict', 'relaxed') });
  if (typeof resolved.unloadFlush !== 'boolean') invalid('unloadFlush', 'a boolean', resolved.unloadFlush);
  fn('fetch', resolved.fetch);
  fn('headers', resolved.headers);
  fn('classify', resolved.classify);
  fn('onBeforeSend', resolved.onBeforeSend);
  fn('random', resolved.random);
  const clock = resolved.clock as Partial<Clock>;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    invalid('clock', 'an object with now, setTimeout and clearTimeout', resolved.clock);
  }
  return resolved;
}
