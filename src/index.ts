export { Queue } from './core/queue.js';
export type { QueueOptions } from './core/options.js';
export type { Lease, LeaseEntry, QueueEntry, QueueStats, ReleaseOptions, TakeOptions } from './core/lease.js';
export type { QueueEventMap, PushDetail, RecoverDetail, CorruptDetail } from './core/events.js';
export { jsonCodec, type Codec } from './core/codec.js';
export { SluiceError, type SluiceErrorCode } from './core/errors.js';
export type { Clock } from './core/clock.js';
export type { Store, QueueStorage, StorageSnapshot, StorageBatch, SegmentInfo, Durability } from './core/store.js';
export { MemoryStore } from './stores/memory/memory-store.js';
