// The listener types below are sluice's own, not the DOM's `EventListenerObject` and `AddEventListenerOptions`:
// Node's types (`@types/node` without `lib: ["dom"]`) declare neither globally, and the public types must compile
// there as they do with the DOM and webworker libs. Structurally they are the DOM's, so either side accepts the other.

/** A listener object for events of type `E`, as `addEventListener` takes one. */
export interface TypedListenerObject<E> {
  handleEvent(event: E): void;
}

/** A listener for events of type `E`: a function, or an object with `handleEvent`. */
export type TypedListener<E> = ((event: E) => void) | TypedListenerObject<E>;

/** Options of `addEventListener`, as every platform takes them. */
export interface ListenerOptions {
  /** As EventTarget's: matters only to removing the listener again. @default false */
  readonly capture?: boolean;
  /** Removed after its first call. @default false */
  readonly once?: boolean;
  /** As EventTarget's (these events cannot be cancelled). @default false */
  readonly passive?: boolean;
  /** Removed when it aborts. @default none */
  readonly signal?: AbortSignal;
}

/**
 * An EventTarget whose `addEventListener` and `removeEventListener` know the events of `M` (type name -> event
 * class), so listeners get `event.detail` typed, and a typed listener can be removed again. The runtime is the
 * platform's EventTarget; `listening` lets a subclass start what only listeners need.
 */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  /** The types a listener was ever added for (never forgotten: a listener removed by `once` or a signal says nothing). */
  readonly #heard = new Set<string>();

  override addEventListener<K extends keyof M & string>(type: K, listener: TypedListener<M[K]> | null, options?: boolean | ListenerOptions): void;
  override addEventListener(type: string, listener: TypedListener<Event> | null, options?: boolean | ListenerOptions): void;
  override addEventListener(type: string, listener: TypedListener<Event> | null, options?: boolean | ListenerOptions): void {
    super.addEventListener(type, listener, options);
    if (!listener) return;
    this.#heard.add(type);
    this.listening(type);
  }

  /** Called when a listener for `type` is added: a subclass starts there what only listeners need. */
  protected listening(_type: string): void {}

  /**
   * Dispatches the event `make` builds, unless no listener for `type` was ever added: an event made on every commit
   * or response costs a few µs that nobody would hear, and a listener added later hears only later events anyway.
   * Says whether it was dispatched.
   */
  protected dispatchHeard(type: string, make: () => Event): boolean {
    if (!this.#heard.has(type)) return false;
    this.dispatchEvent(make());
    return true;
  }

  override removeEventListener<K extends keyof M & string>(type: K, listener: TypedListener<M[K]> | null, options?: boolean | Pick<ListenerOptions, 'capture'>): void;
  override removeEventListener(type: string, listener: TypedListener<Event> | null, options?: boolean | Pick<ListenerOptions, 'capture'>): void;
  override removeEventListener(type: string, listener: TypedListener<Event> | null, options?: boolean | Pick<ListenerOptions, 'capture'>): void {
    super.removeEventListener(type, listener, options);
  }
}
