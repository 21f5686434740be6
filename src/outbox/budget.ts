import { SluiceError } from '../core/errors.js';
import type { Queue } from '../core/queue.js';
import type { LimitOptions } from './options.js';
import { taskBytes, type StoredTask } from './task.js';

/** The 8-byte frame header the queue adds to each item. */
const FRAME = 8;

/**
 * The storage budget of `OutboxOptions.limits`. 'reject' refuses what does not fit; 'drop-oldest' names the oldest
 * tasks not in flight to evict (the outbox buries them as 'evicted', so even an eviction is told in an event).
 */
export class Budget {
  readonly #limits: Required<LimitOptions>;
  readonly #queue: Queue<StoredTask>;

  constructor(limits: Required<LimitOptions>, queue: Queue<StoredTask>) {
    this.#limits = limits;
    this.#queue = queue;
  }

  /**
   * Entries to evict so that `incoming` fits (none when it fits already); rejects 'ERR_QUOTA_EXCEEDED' when it
   * cannot fit. `leaving` are burials already planned (superseded tasks): they free their room.
   */
  async makeRoom(incoming: readonly StoredTask[], leaving: readonly { entryId: string }[]): Promise<{ id: string; value: StoredTask; attempts: number }[]> {
    const { maxTasks, maxBytes, overflow } = this.#limits;
    if (maxTasks === Infinity && maxBytes === Infinity) return [];
    const gone = new Set(leaving.map((l) => l.entryId));
    const stats = await this.#queue.stats();
    const addBytes = incoming.reduce((sum, t) => sum + taskBytes(t) + FRAME, 0);
    let tasks = stats.size - gone.size + incoming.length;
    let bytes = stats.bytes + addBytes;
    if (tasks <= maxTasks && bytes <= maxBytes) return [];
    const fail = () => {
      throw new SluiceError(
        'ERR_QUOTA_EXCEEDED',
        `The outbox holds ${stats.size} tasks in ${stats.bytes} bytes; ${incoming.length} more do not fit its limits ` +
          `(maxTasks ${maxTasks}, maxBytes ${maxBytes}). Nothing was enqueued.`,
      );
    };
    if (overflow === 'reject' || incoming.length > maxTasks || addBytes > maxBytes) fail();
    const evict: { id: string; value: StoredTask; attempts: number }[] = [];
    for (const entry of await this.#queue.list()) {
      if (tasks <= maxTasks && bytes <= maxBytes) break;
      if (entry.state === 'leased' || gone.has(entry.id)) continue;
      evict.push(entry);
      tasks--;
      // Segments free their bytes only when wholly acked, so count what the item itself took.
      bytes -= taskBytes(entry.value) + FRAME;
    }
    if (tasks > maxTasks || bytes > maxBytes) fail();
    return evict;
  }
}
