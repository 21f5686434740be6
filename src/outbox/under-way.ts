/** Calls under way, for a close to let them end first (an enqueue storing its bodies, say). */
export class UnderWay {
  readonly #calls = new Set<Promise<unknown>>();

  /** `call`, kept until it settles. */
  track<R>(call: Promise<R>): Promise<R> {
    this.#calls.add(call);
    const done = () => void this.#calls.delete(call);
    call.then(done, done);
    return call;
  }

  /** Resolves once every call under way now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#calls]);
  }
}
