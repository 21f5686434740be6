import { Heap } from '../core/heap.js';
import type { Pending } from './pending-task.js';

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

  /** Which of two tasks goes first (`byPlace` with one partition, `byTurn` with several). */
  readonly turn: (a: Pending, b: Pending) => number;

  constructor(tasks: ReadonlyMap<number, Pending>, turn: (a: Pending, b: Pending) => number) {
    super(turn);
    this.#tasks = tasks;
    this.turn = turn;
  }

  /** Drops the stale entries (and a task's second one) once they outnumber the tasks (see `Heap.sweep`). */
  sweepStale(): void {
    this.sweep(this.#tasks.size, this.#current, same);
  }
}

const same = (p: Pending): Pending => p;
