/** What holds Web Locks, or hears the queue's BroadcastChannel, on behalf of one handle. */
export interface Restorable {
  /** The page is back from the back/forward cache: what was held was let go, and what was posted went unheard. */
  restored(): void;
}

/**
 * Calls `restored` of each of `parts` when the page comes back from the back/forward cache ('pageshow', persisted).
 * WebKit lets a page's Web Locks go as it is cached (the callbacks' promises never settle) and drops what is posted
 * to its BroadcastChannels meanwhile, yet keeps the page's script as it was: a handle would take itself for the
 * holder of a writer lock another tab has since committed under, and other tabs would take its leases for a dead
 * owner's. Returns the function that stops listening; undefined where there are no pages (Node, workers).
 */
export function onRestore(parts: readonly (Restorable | undefined)[]): (() => void) | undefined {
  const page = globalThis as Partial<Pick<EventTarget, 'addEventListener' | 'removeEventListener'>> & { onpageshow?: unknown };
  if (typeof page.addEventListener !== 'function' || !('onpageshow' in page)) return undefined;
  const listener = (event: Event) => {
    if ((event as Event & { persisted?: boolean }).persisted) for (const part of parts) part?.restored();
  };
  page.addEventListener('pageshow', listener);
  return () => page.removeEventListener?.('pageshow', listener);
}
