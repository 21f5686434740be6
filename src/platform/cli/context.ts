import { MetaLog } from '../../core/meta-log.js';
import { QueueState } from '../../core/queue-state.js';
import { Queue } from '../../core/queue.js';
import type { Store } from '../../core/store.js';
import { FileStore } from '../../stores/fs/file-store.js';
import type { CliIo } from './io.js';

/** What every command works with. */
export interface Context {
  readonly io: CliIo;
  readonly json: boolean;
  /** The FileStore directory, as given. */
  readonly dir: string;
  /** Opens existing queues only: the CLI never creates a queue or a directory, whatever the command. */
  readonly store: FileStore;
  readonly now: () => number;
}

export function context(io: CliIo, dir: string, json: boolean): Context {
  return { io, json, dir, store: new FileStore({ dir, create: false }), now: io.now ?? Date.now };
}

/** Runs `fn` on the queue `name` ('ERR_NOT_FOUND' when there is none), and closes it. */
export async function withQueue<R>(ctx: Context, name: string, fn: (queue: Queue<unknown>) => Promise<R>): Promise<R> {
  const queue = await Queue.open<unknown>({ name, store: ctx.store, partitions: await partitionsOf(ctx.store, name) });
  try {
    return await fn(queue);
  } finally {
    await queue.close();
  }
}

/**
 * How many partitions the queue `name` was made with, as its first partition records it: the CLI opens queues it did
 * not make, and another count would be refused (or, for an empty queue, recorded in its place).
 */
export async function partitionsOf(store: Store, name: string): Promise<number> {
  const storage = await store.open(name);
  try {
    return new MetaLog().read((await storage.load()).meta, new QueueState(), Date.now()).state.partitions;
  } finally {
    await storage.close();
  }
}
