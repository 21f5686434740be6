import type { QueueEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import { LIST_PAGE } from './pending-view.js';

/**
 * Every entry of `queue`, handed to `take` a page (`LIST_PAGE`) at a time: entries come with their tasks' bodies, and
 * a backlog of large ones read whole would not fit in memory.
 */
export async function eachPage<T>(queue: Queue<T>, take: (page: readonly QueueEntry<T>[]) => void | Promise<void>): Promise<void> {
  for (let after: string | undefined; ; ) {
    const page = await queue.list({ limit: LIST_PAGE, ...(after !== undefined && { after }) });
    await take(page);
    if (page.length < LIST_PAGE) return;
    after = page[page.length - 1]!.id;
  }
}
