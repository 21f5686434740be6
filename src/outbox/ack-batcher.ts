/**
 * Group commit for acks: ids added while a commit is running wait for it to end, then go together in the next
 * one. Responses arrive one by one; without this, each delivered task would cost a storage commit of its own.
 */
export class AckBatcher {
  readonly #commit: (ids: string[]) => Promise<unknown>;
  #pending: { ids: string[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #running = false;

  constructor(commit: (ids: string[]) => Promise<unknown>) {
    this.#commit = commit;
  }

  /** Resolves once `ids` are committed (with whatever else was waiting). */
  add(ids: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ ids: [...ids], resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    // A microtask first, so that everything settled in this tick joins the first commit.
    await Promise.resolve();
    while (this.#pending.length > 0) {
      const waiting = this.#pending;
      this.#pending = [];
      try {
        await this.#commit(waiting.flatMap((w) => w.ids));
        for (const w of waiting) w.resolve();
      } catch (error) {
        for (const w of waiting) w.reject(error);
      }
    }
    this.#running = false;
  }
}
