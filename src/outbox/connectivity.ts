/**
 * Hints about the network. Only hints: `navigator.onLine` is true behind a captive portal or a dead router, so the
 * outbox trusts sends more than this (a network error marks it offline, a response marks it online) and uses the
 * hint only to wake up early ('online') or to stop a storm of doomed sends ('offline').
 */
export interface Connectivity {
  /** true, false, or undefined when the platform cannot tell (Node). */
  readonly online: boolean | undefined;
  /** Calls `listener` when the hint changes; returns a function that stops it. */
  subscribe(listener: (online: boolean) => void): () => void;
}

interface OnlineTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  navigator?: { onLine?: boolean };
}

/**
 * The platform's hints: `online`/`offline` events and `navigator.onLine` in browsers and workers, read from
 * globalThis when called (never at import, so this module loads anywhere). Undefined where they do not exist,
 * as in Node, whose outbox learns connectivity from its sends alone (a failed send puts it into probing).
 */
export function platformConnectivity(): Connectivity | undefined {
  const target = globalThis as unknown as Partial<OnlineTarget>;
  if (typeof target.addEventListener !== 'function' || typeof target.navigator?.onLine !== 'boolean') return undefined;
  return eventConnectivity(target as OnlineTarget);
}

/** Connectivity from an event target that fires 'online'/'offline' and a navigator with `onLine`. */
export function eventConnectivity(target: OnlineTarget): Connectivity {
  return {
    get online() {
      return target.navigator?.onLine;
    },
    subscribe(listener) {
      const up = () => listener(true);
      const down = () => listener(false);
      target.addEventListener('online', up);
      target.addEventListener('offline', down);
      return () => {
        target.removeEventListener('online', up);
        target.removeEventListener('offline', down);
      };
    },
  };
}
