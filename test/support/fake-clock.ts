import type { Clock } from '../../src/core/clock.js';

/** The longest delay a real timer holds: Node and browsers run a longer one at once (Node after 1 ms). */
const LONGEST = 2 ** 31 - 1;

/**
 * Time that moves only when a test says so; timers due by then run in order. Two readings, as a real machine has:
 * the wall clock (`now`), which `step` can jump either way (NTP, a laptop waking, a user changing the time), and a
 * monotonic one (`monotonic`), which only `advance` moves and which timers follow. Like real timers, a delay past
 * 2^31 - 1 ms fires after 1 ms: code that arms one directly is caught in a busy loop (`fired` counts timers run).
 */
export class FakeClock implements Clock {
  #now: number;
  #mono = 0;
  #next = 1;
  /** Timers run so far. */
  fired = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#mono;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    const delay = ms > LONGEST ? 1 : Math.max(0, ms);
    this.#timers.set(id, { at: this.#mono + delay, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms` (both readings), running each timer due on the way at its own time. */
  advance(ms: number): void {
    const end = this.#mono + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const timer of this.#timers) if (timer[1].at <= end && (!due || timer[1].at < due[1].at)) due = timer;
      if (!due) break;
      this.#timers.delete(due[0]);
      const at = Math.max(this.#mono, due[1].at);
      this.#now += at - this.#mono;
      this.#mono = at;
      this.fired++;
      due[1].fn();
    }
    this.#now += end - this.#mono;
    this.#mono = end;
  }

  /** Jumps the wall clock by `ms` (negative: back), as NTP or a user does; the monotonic reading and timers stay. */
  step(ms: number): void {
    this.#now += ms;
  }

  /** Timers waiting to run. */
  get pending(): number {
    return this.#timers.size;
  }
}
