// `sluice` under the `node` export condition: everything of the core entry, with FileStore as the default store.
import { Queue as CoreQueue } from './core/queue.js';
import type { Store } from './core/store.js';
import { FileStore } from './stores/fs/file-store.js';

export * from './index.js';

/** A durable FIFO; in Node, queues without a `store` live in `new FileStore({ dir: '.sluice' })` under the working directory. */
export class Queue<T> extends CoreQueue<T> {
  protected static override defaultStore: (() => Store) | undefined = () => new FileStore();
}
