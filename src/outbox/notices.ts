/**
 * The outbox's coalesced notices: 'change' once per tick however many tasks changed, and 'drained' once per
 * emptying, never for an emptiness read before an enqueue started (the epoch says which enqueues came since).
 */
export class Notices {
  readonly #emit: (type: 'change' | 'drained') => void;
  #drained = true;
  #epoch = 0;
  #changeQueued = false;

  constructor(emit: (type: 'change' | 'drained') => void) {
    this.#emit = emit;
  }

  /** Bumped before every enqueue: an emptiness read that started before one is stale. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Tasks are coming (an enqueue, a retried dead letter): 'drained' is owed once they are gone. */
  coming(): void {
    this.#epoch++;
  }

  /** Tasks are there (stored, or found on open): 'drained' is owed. */
  owed(): void {
    this.#drained = false;
  }

  /**
   * The outbox was found empty as of `epoch`: 'drained', unless said already or an enqueue started since. Not while
   * `owed` tasks may yet be told (indexed here, or an ack made again: see `Gone.owed`): an emptiness read of the queue
   * alone comes too early for one whose ack seemed to fail but landed (its reply lost), told 'sent' only once that ack
   * is made again.
   */
  drain(epoch: number, owed = 0): void {
    if (this.#drained || epoch !== this.#epoch || owed > 0) return;
    this.#drained = true;
    this.#emit('drained');
  }

  /** The pending tasks changed: 'change' at the end of this tick. */
  changed(): void {
    if (this.#changeQueued) return;
    this.#changeQueued = true;
    queueMicrotask(() => {
      this.#changeQueued = false;
      this.#emit('change');
    });
  }
}
