import { Heap } from '../core/heap.js';
import type { Pending } from './pending-task.js';

/**
 * The pending index's waiting tasks: a heap by when each wait ends, whose entries a task's later change leaves stale
 * (skipped when reached, so a change costs no search), and the tasks that wait for the network or for another
 * handle's lease, whose waits an event ends early (a success elsewhere, the delivery lock granted).
 */
export class Waits {
  /** The index's tasks by seq: an entry of a task no longer there is stale. */
  readonly #tasks: ReadonlyMap<number, Pending>;
  readonly #heap = new Heap<Wait>((a, b) => a.until - b.until);
  /** Made once: a sweep is looked for at every take. */
  readonly #current = ({ task, until }: Wait): boolean => task.state === 'waiting' && task.until === until && this.#tasks.get(task.seq) === task;
  readonly #offline = new Set<Pending>();
  readonly #leased = new Set<Pending>();

  constructor(tasks: ReadonlyMap<number, Pending>) {
    this.#tasks = tasks;
  }

  /** `pending`, now waiting, waits until `until`. */
  push(pending: Pending, until: number): void {
    this.#heap.push({ task: pending, until });
  }

  /** Drops the stale entries (and a task's second one) once they outnumber the tasks (see `Heap.sweep`). */
  sweepStale(): void {
    this.#heap.sweep(this.#tasks.size, this.#current, taskOf);
  }

  /** Files `pending` by its state and cause just set: waiting for the network, for a lease, or neither. */
  file(pending: Pending): void {
    const { state, cause } = pending;
    if (state === 'waiting' && cause === 'network') this.#offline.add(pending);
    else this.#offline.delete(pending);
    if (state === 'waiting' && cause === 'lease') this.#leased.add(pending);
    else this.#leased.delete(pending);
  }

  /** Takes off the next task still waiting whose wait ended by `now`; undefined when there is none. */
  ended(now: number): Pending | undefined {
    for (let top = this.#heap.peek(); top && top.until <= now; top = this.#heap.peek()) {
      this.#heap.pop();
      if (top.task.state === 'waiting' && top.task.until === top.until) return top.task;
    }
    return undefined;
  }

  /** When the earliest wait ends, or undefined when nothing waits. */
  next(): number | undefined {
    for (;;) {
      const top = this.#heap.peek();
      if (!top) return undefined;
      if (top.task.state === 'waiting' && top.task.until === top.until && this.#tasks.get(top.task.seq) === top.task) return top.until;
      this.#heap.pop();
    }
  }

  /** The tasks waiting because the network failed them (of `origin` only, when given). */
  forNetwork(origin?: string): Pending[] {
    const all = [...this.#offline];
    return origin === undefined ? all : all.filter((p) => p.origin === origin);
  }

  /** The tasks waiting because another handle leased them. */
  forLease(): Pending[] {
    return [...this.#leased];
  }
}

/** A task's wait until `until` (an entry left stale when the task changes). */
interface Wait {
  readonly task: Pending;
  readonly until: number;
}

const taskOf = (wait: Wait): Pending => wait.task;
