import { flat, type Op, type QueueState } from './queue-state.js';

/**
 * Takes given up on with their outcome unknown (a store that answered too late, or not at all: it may have stored the
 * take all the same, then or later, as a paused Redis does once it goes on). Their items would stay leased to nobody
 * until the lease ends: the handle's next takes give back, untried, what they find such a take stored, until it ends.
 */
export class UnknownTakes {
  /** Lease id -> when it ends. */
  readonly #ends = new Map<string, number>();

  add(lease: string, until: number): void {
    this.#ends.set(lease, until);
  }

  /** The ops that give back what these takes stored, as `state` has it at `now`. */
  giveBack(state: QueueState, now: number): Op[] {
    const ops: Op[] = [];
    for (const [lease, until] of this.#ends) {
      if (until <= now) {
        this.#ends.delete(lease);
        continue;
      }
      const hold = state.holds.lease(lease);
      if (hold) ops.push(['u', flat(state.holds.pieces(hold)), null, 1]);
    }
    return ops;
  }
}
