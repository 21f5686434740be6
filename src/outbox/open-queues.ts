import { MAX_ITEM_BYTES, OUTBOX_QUEUE, WRITES_WHEN_FULL } from '../core/options.js';
import { Queue } from '../core/queue.js';
import { LONGEST_MS } from '../core/validate.js';
import type { Store } from '../core/store.js';
import { Relay } from './damage-relay.js';
import type { DeadRecord } from './dead-letters.js';
import type { ResolvedOutboxOptions } from './options.js';
import type { StoredTask } from './task.js';

/** An outbox's two queues, open, and what tells the outbox what their opens found. */
export interface OutboxQueues {
  readonly queue: Queue<StoredTask>;
  readonly deadQueue: Queue<DeadRecord>;
  /** Holds what the queues repaired or found lost until the outbox is handed to it (`Relay.to`). */
  readonly damage: Relay;
}

/**
 * Opens (creating when absent) the queue `o.name` and its dead letters `<name>.dead` in `store` (the platform's
 * default is resolved with the options, before). Both or neither: the first is closed again when the second fails.
 */
export async function openQueues(o: ResolvedOutboxOptions, store: Store | undefined): Promise<OutboxQueues> {
  // A lease outlives the request's timeout, so a live handle's task is never taken by another meanwhile (within the
  // longest lease a queue takes: a timeout that long is as good as none).
  const leaseMs = Math.min(o.timeoutMs + 60_000, LONGEST_MS);
  const common = { clock: o.clock, durability: o.durability, corruption: o.corruption, leaseMs, ...(store && { store }), [OUTBOX_QUEUE]: true as const };
  const damage = new Relay(o.clock, o.name);
  const queue = damage.from(await Queue.open<StoredTask>({ name: o.name, ...common, partitions: o.partitions }));
  let deadQueue: Queue<DeadRecord>;
  try {
    // Dead letters keep one partition: moved there rarely, and listed oldest first, which one order gives. A letter
    // holds its task, up to 4096 characters of error text (at most 6 bytes each in JSON) and a Location (servers
    // cap headers near 16 KB): 64 KiB over the tasks' limit buries any task.
    // A task's burial must not wait for room its group makes only once it is buried: a full Redis lets letters in.
    const letters = { name: `${o.name}.dead`, ...common, maxItemBytes: MAX_ITEM_BYTES + (1 << 16), [WRITES_WHEN_FULL]: true as const };
    deadQueue = damage.from(await Queue.open<DeadRecord>(letters));
  } catch (error) {
    await queue.close();
    throw error;
  }
  return { queue, deadQueue, damage };
}

/** `build()`, or, when it throws (a user's `connectivity.subscribe`, say), its error once `queues` are closed again. */
export async function builtOn<T>(queues: OutboxQueues, build: () => T): Promise<T> {
  try {
    return build();
  } catch (error) {
    await Promise.allSettled([queues.queue.close(), queues.deadQueue.close()]);
    throw error;
  }
}
