// `sluice` under the `node` export condition: everything of the core entry, with FileStore as the default store.
import { Queue as CoreQueue } from './core/queue.js';
import { Outbox as CoreOutbox } from './outbox/outbox.js';
import type { Store } from './core/store.js';
import { FileStore } from './stores/fs/file-store.js';

export * from './index.js';

/** A durable FIFO; in Node, queues without a `store` live in `new FileStore({ dir: '.sluice' })` under the working directory. */
export class Queue<T> extends CoreQueue<T> {
  protected static override defaultStore: (() => Store) | undefined = () => new FileStore();
}

/** HTTP tasks delivered with retry; in Node, outboxes without a `store` live in `new FileStore({ dir: '.sluice' })`. */
export class Outbox extends CoreOutbox {
  protected static override defaultStore: (() => Store) | undefined = () => new FileStore();
}
