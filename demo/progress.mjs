// A progress bar on one line of stderr, drawn only when stderr is a terminal: piped or logged runs get no bar.
const WIDTH = 30;

export class Progress {
  #stream;
  #label;
  #total;
  #drawnAt = 0;

  constructor(label, total, stream = process.stderr) {
    this.#stream = stream.isTTY ? stream : undefined;
    this.#label = label;
    this.#total = total;
  }

  /** Shows `done` of the total (at most every 100 ms, and always the last). */
  update(done) {
    if (!this.#stream) return;
    const now = Date.now();
    if (done < this.#total && now - this.#drawnAt < 100) return;
    this.#drawnAt = now;
    const ratio = Math.min(1, done / this.#total);
    const filled = Math.round(ratio * WIDTH);
    const line = `${this.#label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${Math.floor(ratio * 100)}% ${done}/${this.#total}`;
    this.#stream.write(`\r${line.slice(0, Math.max(10, (this.#stream.columns || 80) - 1))}`);
  }

  /** Clears the bar's line. */
  done() {
    this.#stream?.write('\r\x1b[2K');
  }
}
