import type { LeaseEntry } from '../core/queue-types.js';
import type { BatchOptions } from './options.js';
import type { PendingIndex } from './pending.js';
import type { Pending } from './pending-task.js';
import { batchPart } from './request.js';
import type { StoredTask } from './task.js';
import { utf8Length } from './utf8-length.js';

type Entry = LeaseEntry<StoredTask>;

/** Batches answered in time in a row after which batches made smaller by timeouts may be twice as large again. */
const GROW_AFTER = 16;

/**
 * A task's share of a batch as `batch.maxBytes` counts it: its body's bytes in the batch's JSON array, and the comma
 * or bracket before it (see `packBatches`). Measured once a handle (the index keeps it: measuring means encoding).
 */
export function entryBytes(index: PendingIndex, entry: Entry): number {
  const pending = index.get(Number(entry.id));
  if (pending) return (pending.batchBytes ??= partBytes(entry.value));
  return partBytes(entry.value);
}

function partBytes(task: StoredTask): number {
  return utf8Length(batchPart(task)) + 1;
}

/**
 * What a batch may hold on this handle: `batch`, with `maxBytes` lowered to half of a batch the server refused as too
 * large (413), the size of the halves it was sent again in, so that later batches are made to fit rather than each
 * refused and split in turn; and `maxItems` lowered to half of a batch that got no answer in time twice running (a
 * server slower than `timeoutMs` at that size would get it again for ever), then doubled again after `GROW_AFTER`
 * batches answered in a row: an outage times out every batch, whatever its size, and must not leave batches of one
 * after it. A server's limits are not stored: a restart learns them again.
 */
export class BatchFit {
  readonly #options: Required<BatchOptions>;
  #learned = Infinity;
  #items = Infinity;
  /** Batches answered in time since the last that was not, while `#items` is lowered. */
  #answered = 0;

  constructor(options: Required<BatchOptions>) {
    this.#options = options;
  }

  get limits(): { maxItems: number; maxBytes: number } {
    return { maxItems: Math.min(this.#options.maxItems, this.#items), maxBytes: Math.min(this.#options.maxBytes, this.#learned) };
  }

  /**
   * The server answered `entries`, sent as one batch, with 413: learns the lower limit, and returns the halves they
   * go again in, in order (each may be refused and halved in turn, down to one task, whose 413 is its verdict).
   */
  refused(index: PendingIndex, entries: readonly Entry[]): [Entry[], Entry[]] {
    const half = Math.ceil(entries.length / 2);
    const halves: [Entry[], Entry[]] = [entries.slice(0, half), entries.slice(half)];
    // As `maxBytes` counts a batch: each task's part (with the comma or bracket before it), then the closing bracket.
    const [a, b] = halves.map((part) => part.reduce((sum, e) => sum + entryBytes(index, e), 0) + 1) as [number, number];
    // No larger than the larger half it goes again in, and smaller than what was refused (`a + b - 1` bytes).
    this.#learned = Math.min(this.#learned, Math.max(1, Math.min(a + b - 2, Math.max(a, b))));
    return halves;
  }

  /** A batch of `tasks` got no answer within the time limit twice running: later batches are at most half as large. */
  tooSlow(tasks: number): void {
    this.#items = Math.min(this.#items, Math.ceil(tasks / 2));
    this.#answered = 0;
  }

  /** A batch got an answer in time (`answered`), or none: enough answers in a row, and batches may be twice as large. */
  timed(answered: boolean): void {
    if (this.#items === Infinity) return;
    this.#answered = answered ? this.#answered + 1 : 0;
    if (this.#answered < GROW_AFTER) return;
    this.#answered = 0;
    this.#items = this.#items * 2 >= this.#options.maxItems ? Infinity : this.#items * 2;
  }
}

/** True when `response` refuses a request of several tasks as too large: it is sent again in halves. */
export function tooLarge(response: Response, tasks: number): boolean {
  return response.status === 413 && tasks > 1;
}

/**
 * A batch judged a retry: it goes again as it was, under the same key (its tasks kept together, see `packBatches`),
 * unless it got no answer within the time limit twice running, the second time as it was: then in halves, and the
 * handle's later batches no larger (a server slower than `timeoutMs` at that size would get it again until the
 * tasks expire). A blip then costs no batch its key.
 */
export function retryTogether(fit: BatchFit, tasks: readonly (Pending | undefined)[], ids: readonly string[], timedOut: boolean): void {
  if (timedOut) fit.timed(false);
  const again = ids.length > 1 && timedOut && tasks.every((p) => p?.batchTimedOut && sameIds(p.batchedWith, ids));
  if (again) fit.tooSlow(ids.length);
  for (const p of tasks) {
    if (!p) continue;
    if (again) {
      delete p.batchedWith;
      delete p.batchTimedOut;
    } else {
      p.batchedWith = ids;
      p.batchTimedOut = timedOut;
    }
  }
}

function sameIds(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((id, i) => id === b[i]);
}
