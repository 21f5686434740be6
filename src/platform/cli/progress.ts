/** A terminal stream, as `process.stderr` is one. */
export interface ProgressSink {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

const WIDTH = 30;
// Redrawn at most this often: a drain of 100 000 items would otherwise write a line per lease.
const EVERY_MS = 100;

/**
 * A progress bar on one terminal line, for long operations (a drain, a retry of many dead letters). Drawn only on a
 * TTY, so that piped and scripted runs get their output untouched; the line is cleared when done.
 */
export class Progress {
  readonly #sink: ProgressSink | undefined;
  readonly #label: string;
  readonly #total: number;
  readonly #now: () => number;
  #drawnAt = -Infinity;
  #shown = false;

  constructor(sink: ProgressSink | undefined, label: string, total: number, now: () => number = Date.now) {
    this.#sink = sink?.isTTY ? sink : undefined;
    this.#label = label;
    this.#total = total;
    this.#now = now;
  }

  /** Shows `done` of the total. */
  update(done: number): void {
    if (!this.#sink || this.#total <= 0) return;
    const now = this.#now();
    if (this.#shown && done < this.#total && now - this.#drawnAt < EVERY_MS) return;
    this.#drawnAt = now;
    this.#shown = true;
    const ratio = Math.min(1, done / this.#total);
    const filled = Math.round(ratio * WIDTH);
    const line = `${this.#label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${Math.floor(ratio * 100)}% ${done}/${this.#total}`;
    // Cut to the terminal's width: a wrapped line would not be overwritten by the next `\r`. (A pty without a size says 0.)
    this.#sink.write(`\r${line.slice(0, Math.max(10, (this.#sink.columns || 80) - 1))}`);
  }

  /**
   * Clears the bar's line: before output lines, which would otherwise run into the bar when stdout is the same
   * terminal (the next `update` draws it again), and when done.
   */
  clear(): void {
    if (!this.#shown) return;
    this.#sink!.write('\r\x1b[2K');
    this.#shown = false;
  }
}
