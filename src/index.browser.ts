// `sluice` under the `browser` and `worker` export conditions: everything of the core entry, with IndexedDbStore
// (database "sluice") as the default store of queues and outboxes.
import { Queue as CoreQueue } from './core/queue.js';
import { Outbox as CoreOutbox } from './outbox/outbox.js';
import { withDefaultStore } from './platform/default-store.js';
import { IndexedDbStore } from './stores/indexeddb/indexeddb-store.js';

export * from './index.js';

/** A durable FIFO; in browsers and workers, queues without a `store` live in `new IndexedDbStore()`. */
export const Queue = /* @__PURE__ */ withDefaultStore(CoreQueue, () => new IndexedDbStore());
export type Queue<T> = CoreQueue<T>;

/** HTTP tasks delivered with retry; in browsers and workers, outboxes without a `store` live in `new IndexedDbStore()`. */
export const Outbox = /* @__PURE__ */ withDefaultStore(CoreOutbox, () => new IndexedDbStore());
export type Outbox = CoreOutbox;
