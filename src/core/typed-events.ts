/**
 * An EventTarget whose `addEventListener` knows the events of `M` (type name -> event class), so listeners get
 * `event.detail` typed. Nothing but types: the runtime is the platform's EventTarget.
 */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | EventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener, options);
  }
}
