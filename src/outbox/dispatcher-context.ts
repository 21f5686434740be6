import type { Lease } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { Serial } from '../core/serial.js';
import type { BodyStore } from './body-store.js';
import type { Coordination } from './coordination.js';
import type { DeliveryRun, ToDead } from './delivery.js';
import type { OutboxEventMap } from './events.js';
import type { LeaseContext } from './lease-units.js';
import type { ResolvedOutboxOptions, Transport } from './options.js';
import type { PendingIndex } from './pending.js';
import type { Reachability } from './reachability.js';
import type { StoredTask } from './task.js';

/** What the dispatcher needs of the outbox it serves. */
export interface DispatcherContext {
  readonly options: ResolvedOutboxOptions;
  readonly queue: Queue<StoredTask>;
  readonly index: PendingIndex;
  /** Request bodies stored beside their tasks. */
  readonly bodies: BodyStore;
  readonly reachability: Reachability;
  readonly coordination: Coordination;
  readonly transport: () => Transport;
  /** The outbox's serialiser: what changes the index runs in turn. */
  readonly serial: Serial;
  /** Dispatches `type` on the outbox (a CustomEvent with `detail`, or with what `shown` makes of it, made only if heard). */
  readonly emit: (type: keyof OutboxEventMap, detail?: unknown, shown?: (detail: never) => unknown) => void;
  /** Moves tasks to dead (into dead letters first, then out of the outbox). */
  readonly toDead: (list: readonly ToDead[], lease: Lease<StoredTask> | undefined, run: DeliveryRun) => Promise<void>;
  /** Finishes the moves to dead that a lease's holder left half done (see `DeadMoves.finishCutShort`). */
  readonly buried: LeaseContext['buried'];
  /** True while the background loop runs (a granted lock is then kept). */
  readonly running: () => boolean;
  /** Nothing pending in the index: the outbox checks the queue and says 'drained' (see `DelivererContext.empty`). */
  readonly empty: () => Promise<void>;
  /** A task was delivered to `origin` (undefined: a batch): the network is there, and that origin. */
  readonly delivered: (origin: string | undefined) => void;
  /** The wall clock's time for a wait that starts now, a step back since applied to the waits before (see `Deliverer`). */
  readonly waitsFrom: () => number;
}
