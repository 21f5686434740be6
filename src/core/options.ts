import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { jsonCodec, type Codec } from './codec.js';
import { describe, SluiceError } from './errors.js';
import { MAX_PAYLOAD } from './frame.js';
import { partitionName, partOf } from './partitioned.js';
import type { Durability, Store } from './store.js';
import { check, checkedOptions, duration, integer, invalid, isClock, isCodec, isFunction, limit, noNulls, oneOf, onlyKnown, optional, resolvedOptions, text, withMethods, type Rule } from './validate.js';

/** Options of `Queue.open`. */
export interface QueueOptions<T> {
  /**
   * The queue's name: 1–128 characters of `[A-Za-z0-9._-]`, not `.` or `..`, not ending in `.p<number>` or `.pm`
   * (a partitioned queue's parts). Anything else is rejected with 'ERR_INVALID_NAME' before it touches storage. An
   * outbox's queue (`x` where the store's `exists` says `x.dead` exists) is refused with 'ERR_INCOMPATIBLE_STORE',
   * nothing opened: its items are the outbox's HTTP tasks.
   */
  readonly name: string;
  /**
   * Where the queue lives.
   * @default the platform's store: `IndexedDbStore` in browsers and workers, `FileStore({ dir: '.sluice' })` in Node
   */
  readonly store?: Store | undefined;
  /**
   * How items become bytes. Items the codec cannot carry are rejected with 'ERR_NOT_SERIALIZABLE'; a stored item it
   * cannot decode fails the calls that read it with 'ERR_CORRUPT' naming its id (`remove` takes it out unread).
   * @default jsonCodec()
   */
  readonly codec?: Codec<T> | undefined;
  /**
   * Most items in one segment. Smaller segments free storage sooner; larger ones make fewer, bigger reads.
   * @default 1000
   */
  readonly segmentItems?: number | undefined;
  /**
   * Most encoded bytes in one segment (a single item or `pushMany` larger than this gets a segment of its own); at
   * most 512 MiB, what a Redis string holds.
   * @default 1_048_576 (1 MiB)
   */
  readonly segmentBytes?: number | undefined;
  /**
   * Largest encoded item; larger ones are rejected with 'ERR_ITEM_TOO_LARGE'.
   * @default 1_048_576 (1 MiB)
   */
  readonly maxItemBytes?: number | undefined;
  /**
   * How long a taken item stays leased when neither acked nor released; then it becomes available again. From 1 ms to
   * a hundred years (Infinity is refused: a lease must end, or a handle that dies would hold its items for good).
   * @default 30_000
   */
  readonly leaseMs?: number | undefined;
  /**
   * 'strict': a push resolves once the data is on the medium (fsync; IndexedDB durability 'strict').
   * 'relaxed': survives a crash of the process, not of the machine.
   * @default 'relaxed'
   */
  readonly durability?: Durability | undefined;
  /**
   * What to do with a segment that fails its checksum in a place where a torn write cannot explain it:
   * 'throw' rejects reads with 'ERR_CORRUPT' until someone decides; 'skip' sets the segment aside (quarantine),
   * counts its unacked items as lost and says so in a 'corrupt' event.
   * @default 'throw'
   */
  readonly corruption?: 'throw' | 'skip' | undefined;
  /**
   * How often a waiting iterator looks for items that another handle pushed, when the store cannot tell it: from 1 ms
   * to a hundred years.
   * @default 1000
   */
  readonly pollMs?: number | undefined;
  /**
   * The source of time for leases, delays and waits. Handles on several machines must share one: a lease's end is
   * written by one and judged by another.
   * @default the store's `clock` where it has one (RedisStore: the Redis server's time), else the system clock
   */
  readonly clock?: Clock | undefined;
  /**
   * How many independent sub-queues (partitions) the queue is made of, each with its own commit order, so that
   * handles working on different partitions never contend (on a Redis Cluster, they spread over its nodes). `push`
   * places an item by its `key` (round-robin without one); order holds per key. The handles taking from the queue
   * share the partitions out by rank (listed under `<name>.pm`): `take` draws from this handle's own partitions in
   * turn, and when they are empty, from one other partition per call. The first partition is stored under the
   * queue's name, the others under `<name>.p<i>`. Opening a queue with another count than it was made with is
   * refused with 'ERR_INVALID_OPTION' unless it is empty (then it changes).
   * @default 1
   */
  readonly partitions?: number | undefined;
}

/**
 * The outbox's own option of the queue of its dead letters, kept out of the public options (see
 * `OpenHints.writesWhenFull`).
 */
export const WRITES_WHEN_FULL = Symbol('writesWhenFull');

/**
 * The option of those that open an outbox's queues as what they are (the outbox itself, the CLI), kept out of the
 * public options: the queue is not refused as an outbox's (see `notAnOutboxs`).
 */
export const OUTBOX_QUEUE = Symbol('outboxQueue');

export type ResolvedOptions<T> = Required<Omit<QueueOptions<T>, 'store'>> & { readonly store: Store; readonly writesWhenFull?: true; readonly outboxQueue?: true };

/** The longest name of a queue, and of each partition's storage: what a store may be asked to open. */
export const MAX_NAME = 128;
/** `maxItemBytes` by default: 1 MiB. */
export const MAX_ITEM_BYTES = 1 << 20;
const NAME = new RegExp(`^[A-Za-z0-9._-]{1,${MAX_NAME}}$`);
// A lease shorter than a millisecond ends where it starts: the next take, in the same millisecond, gets its items too.
/** A lease's length, and every wait a queue's options set: from 1 ms to a hundred years. */
export const LEASE = duration(1);

/** Throws 'ERR_INVALID_NAME' unless `name` is a valid queue name. */
export function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name) || name === '.' || name === '..') {
    throw new SluiceError(
      'ERR_INVALID_NAME',
      `Expected \`name\` to be 1–${MAX_NAME} characters of [A-Za-z0-9._-] (not "." or ".."), got ${describe(name)}.`,
    );
  }
}

// Passing the class (`store: MemoryStore`) is the likely slip: the expectation names an instance.
export const STORE: Rule = ['a Store instance with open, such as new MemoryStore()', withMethods('open')[1]];

const RULES = {
  store: STORE,
  codec: isCodec,
  segmentItems: integer(1, 2 ** 31),
  // A Redis string holds at most 512 MiB: a segment allowed past it took pushes until an append was refused.
  segmentBytes: integer(64, 2 ** 29),
  maxItemBytes: integer(1, MAX_PAYLOAD - 8),
  leaseMs: LEASE,
  // A fraction of a millisecond is no timer's, a wait past a hundred years a slip.
  pollMs: LEASE,
  durability: oneOf('strict', 'relaxed'),
  corruption: oneOf('throw', 'skip'),
  clock: isClock,
  partitions: integer(1, 8192),
};

const QUEUE_OPTIONS = ['name', ...Object.keys(RULES)];

/** Defaults merged once and every option checked at once; the caller's object is left alone. */
export function resolveOptions<T>(options: QueueOptions<T>, defaultStore?: () => Store): ResolvedOptions<T> {
  checkedOptions(options, 'options', QUEUE_OPTIONS);
  checkName(options.name);
  // Such a name is a partitioned queue's own storage (a partition, its list of handles): a queue of that name would
  // share it, and its items be taken, or its acks undone, by the partitioned queue.
  if (partOf(options.name) !== undefined) {
    throw new SluiceError('ERR_INVALID_NAME', `Expected \`name\` not to end in .p<number> or .pm, which name a partitioned queue's parts, got ${describe(options.name)}.`);
  }
  noNulls(options, RULES);
  const store = options.store ?? defaultStore?.();
  if (store === undefined) invalid('store', 'a Store (this platform has no default store)', store);
  const resolved: ResolvedOptions<T> = {
    name: options.name,
    store,
    codec: options.codec ?? jsonCodec<T>(),
    segmentItems: options.segmentItems ?? 1000,
    segmentBytes: options.segmentBytes ?? 1 << 20,
    maxItemBytes: options.maxItemBytes ?? MAX_ITEM_BYTES,
    leaseMs: options.leaseMs ?? 30_000,
    durability: options.durability ?? 'relaxed',
    corruption: options.corruption ?? 'throw',
    pollMs: options.pollMs ?? 1000,
    clock: options.clock ?? store.clock ?? systemClock,
    partitions: options.partitions ?? 1,
    ...((options as { [WRITES_WHEN_FULL]?: true })[WRITES_WHEN_FULL] && { writesWhenFull: true }),
    ...((options as { [OUTBOX_QUEUE]?: true })[OUTBOX_QUEUE] && { outboxQueue: true }),
  };
  check(resolved, RULES);
  if (resolved.partitions > 1 && partitionName(resolved.name, resolved.partitions - 1).length > MAX_NAME) {
    invalid('partitions', `a count whose partition names (<name>.p<i>) fit in ${MAX_NAME} characters`, resolved.partitions);
  }
  return resolvedOptions(resolved);
}

const SIGNAL = optional(withMethods('throwIfAborted', 'addEventListener'));
const IDS = optional(['an array of entry ids', Array.isArray]);

/** Arguments of `push` and `pushMany`, and options of `take`, `list` and `iterate`, checked when called. */
export const PUSH_RULES = { items: ['an array', Array.isArray] as Rule, key: optional(text) };
const TAKE_RULES = { max: integer(1, 2 ** 31), leaseMs: optional(LEASE), signal: SIGNAL, filter: optional(isFunction), ids: IDS, early: optional(['a boolean or a function', (v) => typeof v === 'boolean' || typeof v === 'function']) };
const LIST_RULES = { limit: optional(limit(0)), after: optional(text), ids: IDS, partition: optional(integer(0, 8191)) };
export const ITERATE_RULES = { max: optional(integer(1, 2 ** 31)), leaseMs: optional(LEASE), signal: SIGNAL };
/** The names of the options of `push`, `take`, `list`, `remove` and `iterate`. */
export const PUSH_OPTIONS = ['key'];
const TAKE_OPTIONS = Object.keys(TAKE_RULES).filter((key) => key !== 'max');
const LIST_OPTIONS = Object.keys(LIST_RULES);
export const REMOVE_OPTIONS = ['leased'];
export const ITERATE_OPTIONS = Object.keys(ITERATE_RULES);

/** `take`'s options, alone and together: `ids` choose the entries (a `filter` would have none to choose), and `early` acts on them. */
export function checkTake(options: { readonly ids?: unknown; readonly filter?: unknown; readonly early?: unknown }, max: unknown): void {
  onlyKnown(options, TAKE_OPTIONS);
  check({ ...options, max }, TAKE_RULES);
  if (options.ids !== undefined && options.filter !== undefined) invalid('filter', 'left out with `ids` (they choose the entries)', options.filter);
  if (options.early !== undefined && options.ids === undefined) invalid('early', 'given only with `ids`', options.early);
}

/** `list`'s options, for a queue of `partitions` partitions. */
export function checkList(options: { readonly after?: unknown; readonly ids?: unknown; readonly partition?: unknown }, partitions: number): void {
  onlyKnown(options, LIST_OPTIONS);
  check(options, LIST_RULES);
  if (options.after !== undefined && options.ids !== undefined) invalid('after', 'left out with `ids`', options.after);
  if (typeof options.partition === 'number' && options.partition >= partitions) {
    invalid('partition', `a partition of this queue (0 to ${partitions - 1})`, options.partition);
  }
  if (options.after !== undefined && !/^\d{1,16}$/.test(options.after as string)) invalid('after', 'an entry id', options.after);
}
