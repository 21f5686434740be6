interface PageTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/**
 * Calls `listener` when the page is being hidden for good or for the back/forward cache ('pagehide': unlike
 * 'unload', it fires on mobile and does not spoil the cache). Undefined where there are no pages (Node, workers).
 * Reads globalThis when called, never at import.
 */
export function onPageHide(listener: () => void, target: unknown = globalThis): (() => void) | undefined {
  const page = target as Partial<PageTarget> & { onpagehide?: unknown };
  if (typeof page.addEventListener !== 'function' || !('onpagehide' in page)) return undefined;
  page.addEventListener('pagehide', listener);
  return () => page.removeEventListener?.('pagehide', listener);
}
