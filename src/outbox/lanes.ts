import type { Pending } from './pending-task.js';

/** A lane's tasks in queue order; `at` skips those gone from the front. */
export interface Lane {
  seqs: number[];
  at: number;
}

/**
 * The pending index's ordering lanes: each lane's entry seqs in queue order, read from its first task still pending.
 * Tasks leave a lane only from its index, so those gone are dropped from its front as it is read (a lane is not
 * searched), and a lane is forgotten once it holds none.
 */
export class Lanes {
  /** The index's tasks by seq: a seq not there is gone from its lane. */
  readonly #tasks: ReadonlyMap<number, Pending>;
  readonly #lanes = new Map<string, Lane>();

  constructor(tasks: ReadonlyMap<number, Pending>) {
    this.#tasks = tasks;
  }

  /** True while lane `name` holds pending tasks. */
  has(name: string): boolean {
    return this.#lanes.has(name);
  }

  get(name: string): Lane | undefined {
    return this.#lanes.get(name);
  }

  /**
   * Puts entry `seq` in lane `name`: last, as seqs mostly come in queue order (after every seq added before); a task
   * read back after another handle's word dropped it (see `RelayChecks`), or read again whole after the store went back
   * (see `PendingStore.catchUp`), goes to its place (kept when still there).
   */
  add(name: string, seq: number): void {
    let lane = this.#lanes.get(name);
    if (!lane) this.#lanes.set(name, (lane = { seqs: [], at: 0 }));
    const { seqs } = lane;
    let at = seqs.length;
    while (at > lane.at && seqs[at - 1]! > seq) at--;
    if (at > lane.at && seqs[at - 1] === seq) return;
    if (at === seqs.length) seqs.push(seq);
    else seqs.splice(at, 0, seq);
  }

  /** The first task of `lane` still pending, dropping those gone from its front. */
  head(lane: Lane): Pending | undefined {
    while (lane.at < lane.seqs.length && !this.#tasks.has(lane.seqs[lane.at]!)) lane.at++;
    if (lane.at > 64 && lane.at * 2 > lane.seqs.length) {
      lane.seqs = lane.seqs.slice(lane.at);
      lane.at = 0;
    }
    return lane.at < lane.seqs.length ? this.#tasks.get(lane.seqs[lane.at]!) : undefined;
  }

  /** The first task of lane `name` still pending; the lane is forgotten when it has none. */
  headOf(name: string): Pending | undefined {
    const head = this.head(this.#lanes.get(name)!);
    if (!head) this.#lanes.delete(name);
    return head;
  }
}
