import { SluiceError } from '../core/errors.js';
import { existsGuarded } from '../core/guarded-storage.js';
import { MAX_ITEM_BYTES, OUTBOX_QUEUE, WRITES_WHEN_FULL } from '../core/options.js';
import { deadLettersOf } from '../core/outbox-names.js';
import { Queue } from '../core/queue.js';
import { LONGEST_MS } from '../core/validate.js';
import { OPENS_UNTRACED_BEFORE, type Store } from '../core/store.js';
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
 * Opens (creating when absent) the dead letters `<name>.dead` and then the queue `o.name` in `store` (the platform's
 * default is resolved with the options, before): a queue `x` without `x.dead` is then never an outbox's, even one
 * whose open failed between the two, and a Queue is refused on `x` once `x.dead` exists (see `notAnOutboxs`). Both or
 * neither: the first is closed again when the second fails.
 */
export async function openQueues(o: ResolvedOutboxOptions, store: Store | undefined): Promise<OutboxQueues> {
  if (store) await notAQueues(store, o.name);
  // A lease outlives the request's timeout, so a live handle's task is never taken by another meanwhile (within the
  // longest lease a queue takes: a timeout that long is as good as none).
  const leaseMs = Math.min(o.timeoutMs + 60_000, LONGEST_MS);
  const common = { clock: o.clock, durability: o.durability, corruption: o.corruption, leaseMs, ...(store && { store }), [OUTBOX_QUEUE]: true as const };
  const damage = new Relay(o.clock, o.name);
  // Dead letters keep one partition: moved there rarely, and listed oldest first, which one order gives. A letter
  // holds its task, up to 4096 characters of error text (at most 6 bytes each in JSON) and a Location (servers
  // cap headers near 16 KB): 64 KiB over the tasks' limit buries any task.
  // A task's burial must not wait for room its group makes only once it is buried: a full Redis lets letters in.
  const letters = { name: deadLettersOf(o.name), ...common, maxItemBytes: MAX_ITEM_BYTES + (1 << 16), [WRITES_WHEN_FULL]: true as const };
  const deadQueue = damage.from(await Queue.open<DeadRecord>(letters));
  let queue: Queue<StoredTask>;
  try {
    queue = damage.from(await Queue.open<StoredTask>({ name: o.name, ...common, partitions: o.partitions }));
  } catch (error) {
    await deadQueue.close();
    throw error;
  }
  return { queue, deadQueue, damage };
}

/**
 * Refuses the outbox `name` where the store holds a queue `name` and no `<name>.dead`: a Queue's (an outbox makes its
 * dead letters first), whose handles the outbox would share it with. Nothing is made. Skipped where the store cannot
 * tell (no `exists`), and where an earlier sluice's outbox may have left no dead letters (`OPENS_UNTRACED_BEFORE`):
 * refused there, every such outbox would be, after an upgrade, with its tasks in it.
 */
async function notAQueues(store: Store, name: string): Promise<void> {
  const dead = deadLettersOf(name);
  if (OPENS_UNTRACED_BEFORE in store) return;
  if ((await existsGuarded(store, dead, name)) !== false || (await existsGuarded(store, name, name)) !== true) return;
  throw new SluiceError(
    'ERR_INCOMPATIBLE_STORE',
    `Outbox "${name}" cannot open: the store holds a queue "${name}" but not "${dead}", where an outbox keeps its dead letters (and which it makes first), so "${name}" is a Queue's, and the outbox would share it with the Queue's handles. Give the outbox another name (or the Queue: an outbox keeps its tasks in "<outbox>", its dead letters in "<outbox>.dead").`,
  );
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
