/** The most commits remembered: a watcher reads the counter at least every second, and skips at most those of then. */
const KEPT = 256;

/**
 * A handle's own recent commits, each as the counter token it was made on and the one it made: what its watchers need
 * to tell another handle's commit from its own. A watcher that read token A and next reads C must tell a change when
 * another handle committed B in between, even though C is this handle's (its notice of B was not read in time).
 */
export class OwnCommits {
  readonly #made = new Map<string, string>();
  /** The token this handle's last commit made ('' before any). */
  last = '';

  /** This handle's commit moved the counter from `from` to `to`; returns `to`. */
  add(from: string, to: string): string {
    this.#made.set(from, to);
    this.last = to;
    if (this.#made.size > KEPT) this.#made.delete(this.#made.keys().next().value!);
    return to;
  }

  /** Whether the counter's move from `from` (a watcher's last read, if any) to `to` was this handle's commits alone. */
  only(from: string | undefined, to: string): boolean {
    let at = from;
    for (let steps = 0; at !== to && at !== undefined && steps <= KEPT; steps++) at = this.#made.get(at);
    return at === to;
  }
}
