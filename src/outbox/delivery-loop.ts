import { after, WALL_RECHECK_MS, type Clock } from '../core/clock.js';

/** How long the loop waits before looking again when something was due but nothing could start. */
const IDLE_RETRY_MS = 1000;

/** The longest wait before a pass that failed (a store that failed a commit) is tried again. */
const MAX_FAILED_RETRY_MS = 60_000;

/** What the background loop drives. */
export interface LoopContext {
  readonly clock: Clock;
  /** Starts what may go now; resolves how many tasks it started. */
  readonly fill: () => Promise<number>;
  /** Deliveries not yet settled. */
  readonly settling: () => number;
  /** Nothing is running or due: when something next may go (undefined: nothing waits). */
  readonly idle: () => Promise<number | undefined>;
  /**
   * While requests are out: when the next task may go (a retry delay or `notBefore` ending) or be buried as expired
   * (undefined: none, or another handle delivers). Answers kick the loop, but a group's chain answers as one.
   */
  readonly busyWake: () => number | undefined;
  readonly error: (error: unknown) => void;
}

/**
 * Background delivery (`Outbox.start`): a pass starts whatever may go, as often as slots free; when nothing is in
 * flight it sets one timer for the next moment something may go (a retry delay ending, a `notBefore`, a probe).
 * Kicks (an enqueue, a response, a lock granted, the network back) coalesce into at most one more pass.
 */
export class DeliveryLoop {
  readonly #c: LoopContext;
  #running = false;
  #pumping = false;
  #again = false;
  /** Passes that failed in a row: each waits twice as long as the one before. */
  #failures = 0;
  #cancelTimer: (() => void) | undefined;
  /** While requests are out: their answers kick the loop, but a task may expire before any comes. */
  #cancelBusy: (() => void) | undefined;

  constructor(context: LoopContext) {
    this.#c = context;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    this.#running = true;
    this.#failures = 0;
    this.kick();
  }

  stop(): void {
    this.#running = false;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#cancelBusy?.();
    this.#cancelBusy = undefined;
  }

  /** Runs a pass soon (coalesced with one running). */
  kick(): void {
    if (!this.#running) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#pump().finally(() => {
      this.#pumping = false;
      // A kick after the pass ended but before this ran found it pumping: it must not be lost.
      if (this.#again) this.kick();
    });
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        this.#again = false;
        while (this.#running && (await this.#c.fill()) > 0);
        if (!this.#running) return;
        this.#cancelBusy?.();
        this.#cancelBusy = undefined;
        if (this.#c.settling() === 0) await this.#schedule();
        else this.#scheduleBusy();
        this.#failures = 0;
        // A kick while this pass ran (a lock granted, a task enqueued) must not be lost.
        if (!this.#again) return;
      }
    } catch (error) {
      this.#c.error(error);
      // Nothing else may come to kick it (no enqueue, no response, the network there all along): a failed pass must
      // not end delivery. Looked at again later, backing off while the store keeps failing.
      if (this.#running) this.#wakeIn(Math.min(IDLE_RETRY_MS * 2 ** this.#failures++, MAX_FAILED_RETRY_MS));
    }
  }

  async #schedule(): Promise<void> {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const wake = await this.#c.idle();
    if (wake === undefined || !this.#running) return;
    this.#wakeIn(this.#until(wake));
  }

  #scheduleBusy(): void {
    const at = this.#c.busyWake();
    if (at === undefined) return;
    this.#cancelBusy = after(this.#c.clock, this.#until(at), () => {
      this.#cancelBusy = undefined;
      this.kick();
    });
  }

  /**
   * How long to sleep before looking at wall time `at` again: at most a minute (see WALL_RECHECK_MS). A moment already
   * past, after a pass that could start nothing, would be a busy loop: look again a little later.
   */
  #until(at: number): number {
    const delay = at - this.#c.clock.now();
    return delay > 0 ? Math.min(delay, WALL_RECHECK_MS) : IDLE_RETRY_MS;
  }

  #wakeIn(delay: number): void {
    this.#cancelTimer?.();
    this.#cancelTimer = after(this.#c.clock, delay, () => {
      this.#cancelTimer = undefined;
      this.kick();
    });
  }
}
