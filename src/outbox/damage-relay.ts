import type { Clock } from '../core/clock.js';
import type { CorruptDetail, RecoverDetail } from '../core/events.js';
import type { Queue } from '../core/queue.js';
import type { OutboxCorruptDetail } from './events.js';
import type { Pending } from './pending.js';

type Found = readonly [type: 'recover' | 'corrupt', detail: RecoverDetail | CorruptDetail];

/**
 * Tells an outbox's listeners what its queues repaired or found lost ('recover', 'corrupt'): a queue says it a tick
 * after its open resolves, while the outbox is still opening and nobody can listen to it yet. What comes before the
 * outbox is handed over is held, and told a tick after `Outbox.open` resolves, as a queue does.
 */
export class Relay {
  readonly #clock: Clock;
  #held: Found[] | undefined = [];
  #target: EventTarget | undefined;
  /** The task ids behind entries of the queue `name` the relay is for, where known (see `OutboxCorruptDetail`). */
  #tasks: ((entries: readonly string[]) => string[]) | undefined;
  readonly #name: string;

  constructor(clock: Clock, name: string) {
    this.#clock = clock;
    this.#name = name;
  }

  /** Listens to `queue` (at once, before the tick in which it tells what its open found); returns it. */
  from<Q extends Queue<unknown>>(queue: Q): Q {
    queue.addEventListener('recover', (event) => this.#tell(['recover', event.detail]));
    queue.addEventListener('corrupt', (event) => this.#tell(['corrupt', event.detail]));
    return queue;
  }

  /**
   * The outbox is open: what was held goes to it a tick later, and everything after at once (a queue tells what its
   * open found a tick after that open, so what has not come yet comes after the caller could listen).
   */
  to(target: EventTarget, tasks: (entries: readonly string[]) => string[]): void {
    this.#target = target;
    this.#tasks = tasks;
    if (this.#held?.length === 0) {
      this.#held = undefined;
      return;
    }
    this.#clock.setTimeout(() => {
      const held = this.#held ?? [];
      this.#held = undefined;
      for (const found of held) this.#dispatch(found);
    }, 0);
  }

  #tell(found: Found): void {
    if (this.#held) this.#held.push(found);
    else this.#dispatch(found);
  }

  #dispatch([type, detail]: Found): void {
    // Named while the pending index still holds the lost tasks (it learns of the loss when it next reads the queue).
    // (Unless named already: see `tellReplaced`.)
    const tasks = type === 'corrupt' && detail.queue === this.#name && !('tasks' in detail) ? this.#tasks?.((detail as CorruptDetail).lost) : undefined;
    this.#target?.dispatchEvent(new CustomEvent(type, { detail: tasks?.length ? { ...detail, tasks } : detail }));
  }
}

/**
 * Tells, as `queue` tells its own losses, that the entries of `pending` hold other tasks than those the outbox read
 * there: the store went back (a restart from an older snapshot, a failover to a replica behind), and a handle that
 * never knew them stored other tasks under their ids. The queue cannot tell (its items are not named); nothing of them
 * is left to read, whatever `corruption` says. Their tasks are named here: the index lets them go.
 */
export function tellReplaced(queue: Queue<unknown>, pending: readonly Pending[]): void {
  const lost = pending.map((p) => String(p.seq));
  const detail: OutboxCorruptDetail = { queue: queue.name, segment: pending[0]!.seq, offset: 0, lost, action: 'skip', reason: 'missing', tasks: pending.map((p) => p.id) };
  queue.dispatchEvent(new CustomEvent('corrupt', { detail }));
}
