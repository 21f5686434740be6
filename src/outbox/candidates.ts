import { Heap } from '../core/heap.js';
import { byTurn, type Pending } from './pending-task.js';

/**
 * The pending index's candidates (ready tasks without ordering, ready lane heads with it), by turn. A task's later
 * change leaves its entries stale, skipped when popped; only a handle that delivers pops them, so `sweep` drops them
 * once they outnumber the tasks, as `Expiries` does: a handle that only enqueued (beside one that delivers) kept every
 * task it ever stored.
 */
export class Candidates extends Heap<Pending> {
  /** The index's tasks by seq: an entry of a task no longer there is stale. */
  readonly #tasks: ReadonlyMap<number, Pending>;
  /** Made once: a sweep is looked for at every take. */
  readonly #current = (p: Pending): boolean => p.state === 'ready' && this.#tasks.get(p.seq) === p;

  constructor(tasks: ReadonlyMap<number, Pending>) {
    super(byTurn);
    this.#tasks = tasks;
  }

  /** Drops the stale entries (and a task's second one) once they outnumber the tasks (see `Heap.sweep`). */
  sweepStale(): void {
    this.sweep(this.#tasks.size, this.#current, same);
  }
}

const same = (p: Pending): Pending => p;
