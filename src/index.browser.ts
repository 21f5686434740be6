// `sluice` under the `browser` and `worker` export conditions: everything of the core entry, with IndexedDbStore
// (database "sluice") as the default store of queues and outboxes.
import { Queue as CoreQueue } from './core/queue.js';
import { Outbox as CoreOutbox } from './outbox/outbox.js';
import { withDefaultStore } from './platform/default-store.js';
import { IndexedDbStore } from './stores/indexeddb/indexeddb-store.js';

export * from './index.js';

// One store for every queue and outbox of the realm that names none: one connection to the database while any is
// open, none once all closed (the store closes it then).
let shared: IndexedDbStore | undefined;
const defaultStore = () => (shared ??= new IndexedDbStore());

/** A durable FIFO; in browsers and workers, queues without a `store` live in the default `IndexedDbStore`. */
export const Queue = /* @__PURE__ */ withDefaultStore(CoreQueue, { defaultStore });
export type Queue<T> = CoreQueue<T>;

/** HTTP tasks delivered with retry; in browsers and workers, outboxes without a `store` live in the default `IndexedDbStore`. */
export const Outbox = /* @__PURE__ */ withDefaultStore(CoreOutbox, { defaultStore });
export type Outbox = CoreOutbox;
