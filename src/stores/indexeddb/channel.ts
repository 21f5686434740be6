/** On the channel: another handle asks for the writer lock. Anything else tells of a commit. */
const WANT = 'want';
const COMMITTED = 'commit';
/** Most often a handle tells the others of its commits (see `committed`). */
const NOTIFY_MS = 10;

/**
 * A queue's BroadcastChannel, between its handles in every tab and worker of the origin: commit notices, so that
 * waiting consumers wake without polling, and asks for the writer lock. Absent where the platform has no
 * BroadcastChannel (then nothing is said, and nothing heard).
 */
export class QueueChannel {
  readonly #channel: BroadcastChannel | undefined;
  #notifying: ReturnType<typeof setTimeout> | undefined;
  #missed = false;

  constructor(name: string) {
    const Channel = globalThis.BroadcastChannel;
    this.#channel = Channel ? new Channel(name) : undefined;
  }

  get present(): boolean {
    return this.#channel !== undefined;
  }

  /** Asks whoever holds the writer lock to hand it over. */
  readonly ask = (): void => this.#channel?.postMessage(WANT);

  /** Calls `asked` when another handle asks for the writer lock. */
  onAsk(asked: () => void): void {
    this.#channel?.addEventListener('message', (event) => event.data === WANT && asked());
  }

  /**
   * Tells the other handles that this one committed: at once, then at most once per `NOTIFY_MS` while commits
   * follow each other (posting costs a push measurable time in some engines, and a watcher wants to wake, not to
   * count).
   */
  committed(): void {
    if (this.#notifying !== undefined) {
      this.#missed = true;
      return;
    }
    this.#channel?.postMessage(COMMITTED);
    this.#notifying = setTimeout(() => {
      this.#notifying = undefined;
      if (this.#missed) {
        this.#missed = false;
        this.committed();
      }
    }, NOTIFY_MS);
  }

  /** Calls `listener` when another handle committed; returns the unsubscribe function. */
  watch(listener: () => void): () => void {
    const channel = this.#channel;
    const onMessage = (event: MessageEvent) => event.data !== WANT && listener();
    channel?.addEventListener('message', onMessage);
    return () => channel?.removeEventListener('message', onMessage);
  }

  close(): void {
    clearTimeout(this.#notifying);
    if (this.#missed) this.#channel?.postMessage(COMMITTED);
    this.#channel?.close();
  }
}
