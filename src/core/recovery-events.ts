import type { Clock } from './clock.js';
import { SluiceError } from './errors.js';
import type { CorruptDetail, RecoverDetail } from './events.js';
import { inPartition } from './partitioned.js';

type Found = [type: 'recover' | 'corrupt', detail: RecoverDetail | CorruptDetail];

/**
 * How a queue tells what recovery finds (repairs, lost items) in its partitions: 'recover' and 'corrupt' events with
 * the ids the queue gives out, and `Queue.recovered`. What its open finds is held until the open resolves, so that
 * it reaches the listeners added then, and is told in the error when the open fails.
 */
export class RecoveryEvents {
  readonly #target: EventTarget;
  readonly #clock: Clock;
  readonly #recovered: RecoverDetail[];
  /** The losses told (see `corrupt`). */
  readonly #told = new Set<string>();
  /** What open found, held until it resolves: a tick of its own I/O would otherwise tell nobody. */
  #found: Found[] | undefined = [];

  /** Events go to `target`; repairs are also kept in `recovered` (see `Queue.recovered`). */
  constructor(target: EventTarget, clock: Clock, recovered: RecoverDetail[]) {
    this.#target = target;
    this.#clock = clock;
    this.#recovered = recovered;
  }

  /** Partition `p` stored the repair `detail`. */
  recovered(detail: RecoverDetail, p: number): void {
    this.#recovered.push(inPartition(detail, p));
    this.#later('recover', inPartition(detail, p));
  }

  /** Partition `p` cannot read items (see `CorruptDetail`); told at once unless `later`, and once. */
  corrupt(detail: CorruptDetail, p: number, later: boolean): void {
    // Under corruption 'throw' every call meets the same loss again, and rejects saying so; a repair planned again (a
    // lost race) finds it again too: the event is told once. Known by the ids lost: where a repair says they were
    // (the newest segment) moves on as other handles push.
    const { lost } = detail;
    const key = `${p} ${detail.reason} ${lost.length} ${lost[0]} ${lost[lost.length - 1]}`;
    if (this.#told.has(key)) return;
    this.#told.add(key);
    if (later) this.#later('corrupt', inPartition(detail, p));
    else this.#target.dispatchEvent(new CustomEvent('corrupt', { detail: inPartition(detail, p) }));
  }

  /** The open resolved: what it found is told from now on. */
  opened(): void {
    const found = this.#found!;
    this.#found = undefined;
    for (const [type, detail] of found) this.#later(type, detail);
  }

  /**
   * `error` of an open that failed, telling what the open found and stored on the way (repairs, lost items): with no
   * handle to hear them, its 'recover' and 'corrupt' events would tell nobody. Told in the message of the error itself
   * (this open's own): the production build shortens the message given to each `new SluiceError`, and this must stay.
   */
  failed(error: unknown): unknown {
    const found = this.#found!;
    if (!(error instanceof SluiceError) || found.length === 0) return error;
    const told = found.map(([type, detail]) => `${type} ${JSON.stringify(detail)}`).join('; ');
    error.message += ` Before that, opening it found (and stored what was repaired): ${told}.`;
    return error;
  }

  /** Dispatched a tick later, so that listeners added right after `open` resolves hear what open found. */
  #later(type: 'recover' | 'corrupt', detail: RecoverDetail | CorruptDetail): void {
    if (this.#found) this.#found.push([type, detail]);
    else this.#clock.setTimeout(() => this.#target.dispatchEvent(new CustomEvent(type, { detail })), 0);
  }
}
