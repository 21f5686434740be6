/**
 * Live tries of one lane take turns: one made while another of its lane is out waits until that one is answered or
 * stored. Otherwise the later one could reach the server first, and the earlier one, stored on a network error or
 * a timeout, would be delivered after it (or both stored, the later first): the lane's order would not hold.
 */
export class LiveTurns {
  readonly #last = new Map<string, Promise<void>>();

  /**
   * Waits for the turns of `lane` before this one; resolves the function that ends this one. Rejects with the reason
   * of `signal` (the caller's) when it aborts meanwhile, as fetch would: its turn then ends with those before it.
   */
  async take(lane: string | undefined, signal?: AbortSignal): Promise<() => void> {
    if (lane === undefined) return () => undefined;
    const before = this.#last.get(lane);
    let end!: () => void;
    const mine = new Promise<void>((resolve) => (end = resolve));
    const last = before ? before.then(() => mine) : mine;
    this.#last.set(lane, last);
    const done = (): void => {
      end();
      void last.then(() => this.#last.get(lane) === last && this.#last.delete(lane));
    };
    if (before && signal) {
      await new Promise<void>((resolve, reject) => {
        const abort = (): void => {
          done();
          reject(signal.reason);
        };
        if (signal.aborted) return abort();
        signal.addEventListener('abort', abort, { once: true });
        void before.then(() => {
          signal.removeEventListener('abort', abort);
          resolve();
        });
      });
    } else if (before) await before;
    return done;
  }
}
