// `sluice` under the `node` export condition: everything of the core entry, with FileStore (`.sluice` under the
// working directory) as the default store of queues and outboxes.
import { Queue as CoreQueue } from './core/queue.js';
import { Outbox as CoreOutbox } from './outbox/outbox.js';
import { withDefaultStore } from './platform/default-store.js';
import { FileStore } from './stores/fs/file-store.js';

export * from './index.js';

/** A durable FIFO; in Node, queues without a `store` live in `new FileStore({ dir: '.sluice' })`. */
export const Queue = /* @__PURE__ */ withDefaultStore(CoreQueue, { defaultStore: () => new FileStore() });
export type Queue<T> = CoreQueue<T>;

/**
 * HTTP tasks delivered with retry; in Node, outboxes without a `store` live in `new FileStore({ dir: '.sluice' })`, and
 * bodies stored beside their tasks are streamed to fetch a chunk at a time (undici streams request bodies).
 */
export const Outbox = /* @__PURE__ */ withDefaultStore(CoreOutbox, { defaultStore: () => new FileStore(), streamBodies: true });
export type Outbox = CoreOutbox;
