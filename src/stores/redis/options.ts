import type { Cluster, Redis } from 'ioredis';
import { describe, SluiceError } from '../../core/errors.js';
import { checkedOptions } from '../../core/validate.js';

/** Options of `new RedisStore()`. Give `client` or `url`, not both. */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` client. The store adds its scripts to it (`defineCommand`) and never closes it:
   * you do, after closing the queues. The store makes one more connection of its own (`duplicate()`) for pub/sub.
   * @example new RedisStore({ client: new Redis('redis://cache:6379') })
   * @default undefined: one made from `url`
   */
  readonly client?: Redis | Cluster | undefined;
  /**
   * A Redis URL (`redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS). The store then makes its
   * client and owns it: it connects on the first open (or `exists`) and disconnects once its last queue closes (or,
   * with none open, once an `exists` has its answer).
   * @example new RedisStore({ url: process.env.REDIS_URL })
   * @default undefined: `client` is used
   */
  readonly url?: string | undefined;
  /**
   * Put before every key (`sluice:{orders}:v`...), so that several applications share one Redis. No braces: the
   * queue's name is the hash tag.
   * @default 'sluice:'
   */
  readonly prefix?: string | undefined;
  /**
   * How long a handle's heartbeat key lives without a refresh (refreshed every third of it). When a process dies,
   * other processes take its leases back this long after, instead of after `leaseMs`. An integer from 100 to 2^31
   * (Infinity is refused: a dead process's leases would never come back early).
   * @default 10_000
   */
  readonly ownerTtlMs?: number | undefined;
  /**
   * How long a command may keep failing for want of a connection (Redis restarting, a failover), or wait for a server
   * that stopped answering (at least 1 s), before the call rejects with 'ERR_STORAGE'. Retrying a commit is safe: a
   * commit whose reply was lost is recognised when sent again and is never applied twice. At most 1_000_000_000.
   * @default 10_000
   */
  readonly retryMs?: number | undefined;
  /**
   * For `durability: 'strict'`: how many replicas must confirm each commit (`WAIT`) before it resolves. By default
   * none when the primary fsyncs every write (`appendonly yes`, `appendfsync always`), else every replica connected
   * (the fewest of any Cluster primary), as read when the store first opened a queue and again after each
   * reconnection or change of a Cluster's primaries.
   * @default undefined (decided from the server)
   */
  readonly replicas?: number | undefined;
  /**
   * How long a strict commit waits for its replicas; too few confirmations then reject it with 'ERR_STORAGE'. At most
   * 1_000_000_000.
   * @default 1000
   */
  readonly replicaTimeoutMs?: number | undefined;
  /**
   * Told, once each, what the store cannot promise: 'strict' commits the server cannot make durable, a
   * `maxmemory-policy` that can evict the queue's keys, this machine's clock a second or more from the server's
   * (leases are timed by each machine's clock). Told every time: each outage of the heartbeats (refreshes refused,
   * failing or unanswered for half of `ownerTtlMs`: other handles may soon take this process's leases back), and its
   * end; each handle whose heartbeat had expired and that was judged gone (its leased items may be delivered again).
   * Never told about data: every failure of a call rejects that call.
   * @default console.warn
   */
  readonly onWarning?: ((message: string) => void) | undefined;
}

export interface ResolvedRedisOptions {
  readonly client: Redis | Cluster | undefined;
  readonly url: string | undefined;
  readonly prefix: string;
  readonly ownerTtlMs: number;
  readonly retryMs: number;
  readonly replicas: number | undefined;
  readonly replicaTimeoutMs: number;
  readonly onWarning: (message: string) => void;
}

/** The most `retryMs` and `replicaTimeoutMs` may be: about 11.6 days. */
const MAX_WAIT_MS = 1_000_000_000;

/** Validates `options` at once and merges the defaults; never changes the caller's object. */
export function resolveRedisOptions(options: RedisStoreOptions): ResolvedRedisOptions {
  checkedOptions(options, 'options', ['client', 'url', 'prefix', 'ownerTtlMs', 'retryMs', 'replicas', 'replicaTimeoutMs', 'onWarning'], 'an object with `client` or `url`');
  const { client, url, prefix = 'sluice:', ownerTtlMs = 10_000, retryMs = 10_000, replicas, replicaTimeoutMs = 1000, onWarning = console.warn } = options;
  if (client === undefined && url === undefined) invalid('client', 'an ioredis Redis or Cluster (or give `url`)', client);
  // `client: null` beside a `url` is a client left out, not one given: named as such, never as a `url` too many.
  if (client === null) invalid('client', 'an ioredis Redis or Cluster, or left out (to connect to `url`)', client);
  if (client !== undefined && url !== undefined) invalid('url', 'absent when `client` is given', url);
  if (client !== undefined && (typeof client !== 'object' || client === null || typeof (client as Redis).defineCommand !== 'function')) {
    invalid('client', 'an ioredis Redis or Cluster', client);
  }
  // Reads from replicas (blob lengths, segments) see what they have received so far: a body stored a moment ago
  // would read as cut, and a queue as shorter than it is.
  const scaleReads = (client as { isCluster?: boolean; options?: { scaleReads?: unknown } } | undefined)?.isCluster ? (client as Cluster).options.scaleReads : 'master';
  if (scaleReads !== undefined && scaleReads !== 'master') {
    const why = 'a replica lags: a body stored a moment ago would read as cut, a queue as shorter than it is. Give the store a Cluster client of its own';
    throw new SluiceError('ERR_INVALID_OPTION', `Expected \`client\` to be an ioredis Cluster reading from primaries (scaleReads: 'master', its default), got one with scaleReads ${describe(scaleReads)}: ${why}.`);
  }
  if (url !== undefined) checkUrl(url);
  if (typeof prefix !== 'string' || prefix === '') invalid('prefix', 'a non-empty string', prefix);
  if (/[{}]/.test(prefix)) invalid('prefix', 'a string without braces (the queue name is the hash tag)', prefix);
  integer('ownerTtlMs', ownerTtlMs, 100, 2 ** 31);
  // Timers are made from retryMs + replicaTimeoutMs (a call's bound): each at most MAX_WAIT_MS keeps the sum within
  // what setTimeout takes (2^31 - 1 ms; beyond, Node fires it at once).
  integer('retryMs', retryMs, 0, MAX_WAIT_MS);
  if (replicas !== undefined) integer('replicas', replicas, 0, 64);
  integer('replicaTimeoutMs', replicaTimeoutMs, 1, MAX_WAIT_MS);
  if (typeof onWarning !== 'function') invalid('onWarning', 'a function', onWarning);
  return { client, url, prefix, ownerTtlMs, retryMs, replicas, replicaTimeoutMs, onWarning };
}

// The Queue's message style, "Expected `prefix` to be a non-empty string, got 5.", kept here so that this store
// depends on nothing of the core but its errors.
function invalid(option: string, expected: string, given: unknown): never {
  // As the core's: a string where a function goes is not echoed (it may be a token given to the wrong option).
  const shown = typeof given === 'string' && expected === 'a function' ? 'a string' : describe(given);
  throw new SluiceError('ERR_INVALID_OPTION', `Expected \`${option}\` to be ${expected}, got ${shown}.`);
}

/** What ioredis would fail on with a raw TypeError or URIError, once it connects: said here, at once. */
function checkUrl(url: unknown): void {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) invalid('url', 'a redis:// or rediss:// URL', url);
  try {
    const parsed = new URL(url);
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
    if (parsed.hostname === '' || !/^(\/\d*)?$/.test(parsed.pathname)) throw new Error('no host, or a db that is not a number');
  } catch {
    // Its password is not echoed (see `describe`).
    invalid('url', 'a redis:// or rediss:// URL (`redis://[[user]:password@]host[:port][/db]`, user and password percent-encoded)', url);
  }
}

function integer(option: string, value: unknown, min: number, max: number): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) invalid(option, `an integer from ${min} to ${max}`, value);
}
