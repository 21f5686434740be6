import type { QueueBlobs as QueueBlobsClass } from './core/blobs.js';
import type { DeadLetters as DeadLettersClass } from './outbox/dead-letters.js';

export { Queue } from './core/queue.js';
export type { QueueOptions } from './core/options.js';
export type { IterateOptions, Lease, LeaseEntry, ListOptions, PushOptions, QueueEntry, QueueStats, ReleaseOptions, RemoveOptions, TakeOptions } from './core/queue-types.js';
export type { QueueEventMap, PushDetail, RecoverDetail, CorruptDetail } from './core/events.js';
export { jsonCodec, type Codec } from './core/codec.js';
export { SluiceError, type SluiceErrorCode } from './core/errors.js';
export type { Clock } from './core/clock.js';
export type { ListenerOptions, TypedListener, TypedListenerObject } from './core/typed-events.js';
export type { Store, QueueStorage, StorageSnapshot, StorageBatch, SegmentInfo, OpenHints, Durability, BlobStorage, HeldStorage } from './core/store.js';
export { MemoryStore } from './stores/memory/memory-store.js';
export { Outbox } from './outbox/outbox.js';
export type { OutboxOptions, RetryOptions, BatchOptions, LimitOptions, ResponseLike, Transport } from './outbox/options.js';
export type { RedirectPolicy } from './outbox/redirects.js';
export type { HttpTask } from './outbox/task.js';
export { BodyRef } from './outbox/body.js';
export type { Classify, Verdict } from './outbox/classify.js';
export type { DeadLetter, DeadReason } from './outbox/dead-letters.js';
export type { OutboxEventMap, OutboxCorruptDetail, FlushOptions, FlushResult, ListPendingOptions, PendingTask, SentDetail, RetryDetail, DeadDetail, HandedOverDetail, TaskView, EnqueueDetail, OnlineDetail, ErrorDetail } from './outbox/events.js';

// Classes whose instances users get (`queue.blobs`, `outbox.dead`) but never make: types only. Re-exported as
// classes, the bundled declarations made them values too, and `import { DeadLetters }` type-checked, then failed to
// load (no such export at run time).
/** A queue's blob storage: `queue.blobs`. */
export type QueueBlobs = QueueBlobsClass;
/** An outbox's dead letters: `outbox.dead`. */
export type DeadLetters = DeadLettersClass;
