import type { Lease } from '../core/queue-types.js';
import type { Serial } from '../core/serial.js';
import type { DeliveryRun, Entry } from './delivery.js';
import type { StoredTask } from './task.js';

/**
 * Units taken and not started yet, with the lease holding them and the run that took them, which they start for unless
 * it is over (then for the run whose fill starts them): an aborted flush's would park their retries for good.
 */
export interface Buffered {
  readonly unit: Entry[];
  readonly lease: Lease<StoredTask>;
  readonly run: DeliveryRun;
}

/** Takes the first unit of `buffer` that `held` does not hold out of it (undefined: none), leaving those before it. */
export function unheld(buffer: Buffered[], held: (unit: Buffered) => boolean): Buffered | undefined {
  const at = buffer.findIndex((unit) => !held(unit));
  return at < 0 ? undefined : buffer.splice(at, 1)[0];
}

/** Takes the units of `buffer` that `out` picks out of it, in their order. */
export function pickOut(buffer: Buffered[], out: (unit: Buffered) => boolean): Buffered[] {
  const picked: Buffered[] = [];
  for (let at = 0; at < buffer.length; ) {
    if (out(buffer[at]!)) picked.push(...buffer.splice(at, 1));
    else at++;
  }
  return picked;
}

/** What taking ahead needs of the dispatcher. */
export interface TakeAheadContext {
  /** The outbox's serialiser: takes and give-backs run in turn with fills. */
  readonly serial: Serial;
  /** Takes the units of `lane` right behind its unit in flight, as far as they may go then. */
  readonly take: (lane: string, run: DeliveryRun) => Promise<Buffered[]>;
  /** Starts a unit taken ahead in the slot its lane's unit just freed; false when it may not go now. */
  readonly start: (unit: Buffered) => boolean;
  readonly giveBack: (unit: Buffered) => Promise<void>;
  readonly error: (error: unknown) => void;
}

/**
 * With ordering, a lane's next unit is taken while its current one is in flight: when the current unit's last
 * response is judged sent, the next request starts at once, with no storage commit (the take) between a response
 * and the next request, and the ack of the unit that ended commits while that request is out. At most one unit per
 * lane is taken ahead; it starts only if the lane goes on (every task before it left the lane), else it goes back
 * untried, as does one whose take ends after the unit before it.
 */
export class TakeAhead {
  readonly #c: TakeAheadContext;
  /** Per lane with a unit in flight: what was taken behind it (undefined while the take runs). */
  readonly #lanes = new Map<string, { taken?: Buffered[] }>();

  constructor(context: TakeAheadContext) {
    this.#c = context;
  }

  /** A unit of `lane` started: its next one is taken in the outbox's turn (after the fill that started it). */
  started(lane: string, run: DeliveryRun): void {
    if (this.#lanes.has(lane)) return;
    const slot: { taken?: Buffered[] } = {};
    this.#lanes.set(lane, slot);
    void this.#c
      .serial(async () => {
        if (this.#lanes.get(lane) !== slot) return;
        // A take that fails leaves the slot empty: the unit in flight ends as if nothing were taken behind it.
        const taken = await this.#c.take(lane, run);
        if (this.#lanes.get(lane) === slot) {
          slot.taken = taken;
          if (taken.length === 0) this.#lanes.delete(lane);
          return;
        }
        // The unit in flight ended (or everything was given back) while this take ran: a fill takes them again.
        for (const unit of taken) await this.#c.giveBack(unit);
      })
      .catch(this.#c.error);
  }

  /** The unit of `lane` in flight freed its slot; `goesOn`: every task of it left the lane (sent, or dead). */
  ended(lane: string, goesOn: boolean): void {
    const slot = this.#lanes.get(lane);
    if (!slot) return;
    this.#lanes.delete(lane);
    const taken = slot.taken;
    if (!taken || (goesOn && taken.length === 1 && this.#c.start(taken[0]!))) return;
    // In the outbox's turn, so that the next fill finds them ready.
    void this.#c
      .serial(async () => {
        for (const unit of taken) await this.#c.giveBack(unit);
      })
      .catch(this.#c.error);
  }

  /** Everything taken ahead and not started, now out of here: for the caller to give back (call it in turn). */
  drop(): Buffered[] {
    const out = [...this.#lanes.values()].flatMap((slot) => slot.taken ?? []);
    this.#lanes.clear();
    return out;
  }
}
