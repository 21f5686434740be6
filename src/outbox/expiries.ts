import { Heap } from '../core/heap.js';
import { inFlight, type Pending } from './pending-task.js';

/**
 * The pending index's tasks that have an `expiresAt`, by it. Each goes to dead then, wherever it stands: behind its
 * lane's failing head, or while offline, where no request comes to take it. One in flight then, or held by another
 * handle's lease, is looked at again until it is free or gone. Entries of tasks gone are swept once they outnumber
 * the tasks pending, so a long run of tasks that expire far ahead holds no more than about twice those.
 */
export class Expiries {
  /** The index's tasks by seq: an entry of a task no longer there is stale. */
  readonly #tasks: ReadonlyMap<number, Pending>;
  readonly #heap = new Heap<Pending>((a, b) => a.expiresAt - b.expiresAt);
  /** Expired and still pending: in flight or held by another handle's lease, buried once free (a failed burial too). */
  readonly #late = new Set<Pending>();
  /** Made once: a sweep is looked for at every removal. */
  readonly #current = (p: Pending): boolean => this.#tasks.get(p.seq) === p;

  constructor(tasks: ReadonlyMap<number, Pending>) {
    this.#tasks = tasks;
  }

  /** Entries held, stale ones included. */
  get size(): number {
    return this.#heap.size + this.#late.size;
  }

  add(pending: Pending): void {
    if (pending.expiresAt !== Infinity) this.#heap.push(pending);
  }

  /** `pending` left the index (its entries are stale). */
  remove(pending: Pending): void {
    this.#late.delete(pending);
    this.#heap.sweep(this.#tasks.size, this.#current);
  }

  /** The tasks expired by `now` that may be buried now (see `buriableAt`). */
  take(now: number): Pending[] {
    for (let top = this.#heap.peek(); top && top.expiresAt <= now; top = this.#heap.peek()) {
      this.#heap.pop();
      if (this.#tasks.get(top.seq) === top) this.#late.add(top);
    }
    const out: Pending[] = [];
    for (const pending of this.#late) if (buriableAt(pending) <= now) out.push(pending);
    return out;
  }

  /** When `take` next gives a task (a time past: now), or undefined while none would come. */
  next(): number | undefined {
    let next = Infinity;
    for (const pending of this.#late) next = Math.min(next, buriableAt(pending));
    for (let top = this.#heap.peek(); top; top = this.#heap.peek()) {
      if (this.#tasks.get(top.seq) === top) return Math.min(next, top.expiresAt);
      this.#heap.pop();
    }
    return next === Infinity ? undefined : next;
  }
}

/**
 * When an expired task may be buried: ready or taken ahead of its request (see `recall`), at once; waiting, once a
 * wait set after its expiry ends (a failed burial's delay: a store that keeps refusing is not asked again at once);
 * in flight or leased elsewhere, not yet.
 */
function buriableAt(pending: Pending): number {
  if (inFlight(pending) || pending.cause === 'lease') return Infinity;
  return pending.state === 'ready' || pending.state === 'busy' ? pending.expiresAt : Math.max(pending.until, pending.expiresAt);
}
