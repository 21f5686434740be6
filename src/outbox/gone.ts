import type { QueueEntry } from '../core/queue-types.js';
import type { Pending, PendingIndex } from './pending.js';
import type { StoredTask } from './task.js';

/** How many forgotten entries a handle remembers (the word on them follows within moments, if at all). */
const REMEMBERED = 1024;

/**
 * The entries the index forgot because it found them gone from the store: another handle sent, buried or handed them
 * over, and its word on them ('sent', 'dead', 'handed-over') may come only after (the channel is slower than the store
 * it races). That word is then no longer about a task this handle indexes, yet the store already confirmed it: it is
 * said, once, if it names the task (by entry and id) that was forgotten. Bounded: the oldest are let go first.
 */
export class Gone {
  readonly #ids = new Map<number, string>();
  /**
   * Acks made again in the background (see `ackLater`) whose next look is due: one may find its tasks gone meanwhile
   * (forgotten here, the index empty) and only then say them sent, so 'drained' waits for it.
   */
  owed = 0;

  /** Tasks found gone from the store (not settled here, nor removed by this handle's own call). */
  add(tasks: Iterable<Pending>): void {
    for (const pending of tasks) {
      this.#ids.delete(pending.seq);
      this.#ids.set(pending.seq, pending.id);
      if (this.#ids.size > REMEMBERED) this.#ids.delete(this.#ids.keys().next().value!);
    }
  }

  /** True (once) when every entry of `seqs` was forgotten as gone, whatever it held: this handle says the word on them itself. */
  takeAll(seqs: readonly number[]): boolean {
    if (!seqs.every((seq) => this.#ids.has(seq))) return false;
    for (const seq of seqs) this.#ids.delete(seq);
    return true;
  }

  /** True (once) when entry `seq` was forgotten as gone holding task `id`: the word on it is to be said now. */
  said(seq: number, id: string): boolean {
    if (this.#ids.get(seq) !== id) return false;
    this.#ids.delete(seq);
    return true;
  }
}

/**
 * Learns where `tasks` are from `listed` (the queue's entries of those still in it), after this handle could not take or
 * remove them: those gone are forgotten, the others wait for their lease or delay. Returns those gone, which can only
 * have gone by another handle's doing (delivered, buried): its word on them is then still said (see `Gone`).
 */
export function relearn(index: PendingIndex, tasks: readonly Pending[], listed: readonly QueueEntry<StoredTask>[]): Pending[] {
  const found = new Map(listed.map((e) => [Number(e.id), e]));
  const gone = tasks.filter((pending) => {
    const entry = found.get(pending.seq);
    if (entry) index.wait(pending, entry.availableAt, entry.state === 'leased' ? 'lease' : 'server');
    else index.remove(pending);
    return !entry;
  });
  index.gone.add(gone);
  return gone;
}
