// `sluice` under the `browser` and `worker` export conditions: everything of the core entry, with IndexedDbStore
// (database "sluice") as the default store.
import { Queue as CoreQueue } from './core/queue.js';
import { Outbox as CoreOutbox } from './outbox/outbox.js';
import type { Store } from './core/store.js';
import { IndexedDbStore } from './stores/indexeddb/indexeddb-store.js';

export * from './index.js';

/** A durable FIFO; in browsers and workers, queues without a `store` live in `new IndexedDbStore()` (database "sluice"). */
export class Queue<T> extends CoreQueue<T> {
  protected static override defaultStore: (() => Store) | undefined = () => new IndexedDbStore();
}

/** HTTP tasks delivered with retry; in browsers and workers, outboxes without a `store` live in `new IndexedDbStore()` (database "sluice"). */
export class Outbox extends CoreOutbox {
  protected static override defaultStore: (() => Store) | undefined = () => new IndexedDbStore();
}
