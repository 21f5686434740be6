import type { LeaseEntry } from '../core/queue-types.js';
import type { BatchOptions } from './options.js';
import type { PendingIndex } from './pending.js';
import { taskBytes, type StoredTask } from './task.js';

type Entry = LeaseEntry<StoredTask>;

/** A task's size as `batch.maxBytes` counts it (the index keeps it; measuring a task means encoding it). */
export function entryBytes(index: PendingIndex, entry: Entry): number {
  return index.get(Number(entry.id))?.bytes ?? taskBytes(entry.value);
}

/**
 * What a batch may hold on this handle: `batch`, with `maxBytes` lowered to half of a batch the server refused as too
 * large (413), the size of the halves it was sent again in, so that later batches are made to fit rather than each
 * refused and split in turn. A server's limit is not stored: a restart learns it again from one refusal.
 */
export class BatchFit {
  readonly #options: Required<BatchOptions>;
  #learned = Infinity;

  constructor(options: Required<BatchOptions>) {
    this.#options = options;
  }

  get limits(): { maxItems: number; maxBytes: number } {
    return { maxItems: this.#options.maxItems, maxBytes: Math.min(this.#options.maxBytes, this.#learned) };
  }

  /**
   * The server answered `entries`, sent as one batch, with 413: learns the lower limit, and returns the halves they
   * go again in, in order (each may be refused and halved in turn, down to one task, whose 413 is its verdict).
   */
  refused(index: PendingIndex, entries: readonly Entry[]): [Entry[], Entry[]] {
    const bytes = entries.reduce((sum, e) => sum + entryBytes(index, e), 0);
    this.#learned = Math.min(this.#learned, Math.max(1, Math.floor(bytes / 2)));
    const half = Math.ceil(entries.length / 2);
    return [entries.slice(0, half), entries.slice(half)];
  }
}

/** True when `response` refuses a request of several tasks as too large: it is sent again in halves. */
export function tooLarge(response: Response, tasks: number): boolean {
  return response.status === 413 && tasks > 1;
}
