/** On the channel: another handle asks for the writer lock. */
const WANT = 'want';
/** A handle committed. */
const COMMITTED = 'commit';
/** A handle opened: those that watch say so (`WATCHING`), so that it knows to tell them of its commits. */
const HELLO = 'hello';
/** A handle watches: from now, or still (answering `HELLO`). */
const WATCHING = 'watching';
/** A handle names itself (`here:<owner>`), answering `WATCHING`: the watcher hears when it goes (see `onPeer`). */
const HERE = 'here:';
/** Most often a handle tells the others of its commits (see `committed`). */
const NOTIFY_MS = 10;
/**
 * How long after it says it watches a handle that has heard no notice since looks again, once (see `QueueChannel`):
 * far longer than a message takes between two contexts that run.
 */
const LATE_MS = 200;

/**
 * A queue's BroadcastChannel, between its handles in every tab and worker of the origin: commit notices, so that
 * waiting consumers wake without polling, and asks for the writer lock. Absent where the platform has no
 * BroadcastChannel (then nothing is said, and nothing heard).
 *
 * Commit notices go out only once another handle watches: a post costs a push measurable time (in Chromium, a few
 * percent of a sequential push's), every other context of the origin that has the channel open runs to receive it,
 * and most queues are open in one context. A handle that starts watching says so, and one that opens asks who
 * watches; a handle that hears of a watcher after it committed tells it at once, since that watcher may have looked
 * before the commit and started watching after it. From then on it tells of every commit, for good: a watcher that
 * stopped or died is told on (a notice too many, never one too few). A handle that committed and closes before it
 * heard of a watcher tells as it closes; one that committed and died before it heard cannot, so a watcher that has
 * heard no notice `LATE_MS` after it said it watches looks again, once, as if told. Nor can one that dies after a
 * commit and before its notice went (a tab closed, a worker terminated, while the notice waited out the spacing of
 * notices): so each handle names itself to a watcher that says it watches, and the watcher looks again when a handle
 * it was told of goes (through its owner lock, where Web Locks exist).
 */
export class QueueChannel {
  readonly #channel: BroadcastChannel | undefined;
  /** This handle's watchers. */
  readonly #listeners = new Set<() => void>();
  /** Another handle watches, or did. */
  #watched = false;
  #asked: (() => void) | undefined;
  #peer: ((owner: string) => void) | undefined;
  /** This handle's name as other handles' `isGone` knows it; unnamed, it says nothing of itself. */
  readonly #owner: string | undefined;
  #committed = false;
  #notifying: ReturnType<typeof setTimeout> | undefined;
  #missed = false;
  /** The look again after saying this handle watches (see `LATE_MS`); cleared by the first notice heard. */
  #late: ReturnType<typeof setTimeout> | undefined;

  constructor(name: string, owner?: string) {
    this.#owner = owner;
    const Channel = globalThis.BroadcastChannel;
    if (!Channel) return;
    const channel = (this.#channel = new Channel(name));
    channel.onmessage = (event: MessageEvent) => this.#heard(event.data);
    // Node (fake-indexeddb) keeps a process alive while a channel is open; a queue must not, as on FileStore.
    (channel as unknown as { unref?: () => void }).unref?.();
    channel.postMessage(HELLO);
  }

  get present(): boolean {
    return this.#channel !== undefined;
  }

  /** Asks whoever holds the writer lock to hand it over. */
  readonly ask = (): void => this.#channel?.postMessage(WANT);

  /** Calls `asked` when another handle asks for the writer lock. */
  onAsk(asked: () => void): void {
    this.#asked = asked;
  }

  /** Calls `peer` with the name of each handle that answers this one's word that it watches. */
  onPeer(peer: (owner: string) => void): void {
    this.#peer = peer;
  }

  /**
   * Tells the handles that watch that this one committed: at once, then at most once per `NOTIFY_MS` while commits
   * follow each other (a watcher wants to wake, not to count).
   */
  committed(): void {
    this.#committed = true;
    if (!this.#watched) return;
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
    // A function of its own per call: the same listener watching twice is unwatched once per call.
    const call = () => listener();
    this.#listeners.add(call);
    if (this.#listeners.size === 1) this.#sayWatching();
    return () => this.#listeners.delete(call);
  }

  /**
   * Back from the back/forward cache, having heard nothing meanwhile: asks again who watches (one may have begun to
   * meanwhile); a watcher looks again, and says it watches.
   */
  restored(): void {
    this.#channel?.postMessage(HELLO);
    if (this.#listeners.size === 0) return;
    this.#tell();
    this.#sayWatching();
  }

  close(): void {
    clearTimeout(this.#notifying);
    clearTimeout(this.#late);
    // Unheard: a watcher may have looked before this handle's commits and said it watches only after them.
    if (this.#missed || (this.#committed && !this.#watched)) this.#channel?.postMessage(COMMITTED);
    this.#missed = this.#committed = false;
    this.#channel?.close();
  }

  #sayWatching(): void {
    this.#channel?.postMessage(WATCHING);
    clearTimeout(this.#late);
    this.#late = setTimeout(() => this.#tell(), LATE_MS);
  }

  #tell(): void {
    clearTimeout(this.#late);
    this.#listeners.forEach((listener) => listener());
  }

  #heard(data: unknown): void {
    if (data === WANT) this.#asked?.();
    else if (data === COMMITTED) this.#tell();
    else if (data === HELLO) {
      if (this.#listeners.size > 0) this.#sayWatching();
    } else if (data === WATCHING) {
      this.#watched = true;
      if (this.#committed) this.#channel?.postMessage(COMMITTED);
      if (this.#owner !== undefined) this.#channel?.postMessage(HERE + this.#owner);
    } else if (typeof data === 'string' && data.startsWith(HERE)) {
      if (this.#listeners.size > 0) this.#peer?.(data.slice(HERE.length));
    }
  }
}
