// The few promise helpers the store needs over the bare IndexedDB API. The store used idb's wrappers once; the hot
// paths went around them (a promise per request, each rejecting unhandled when a transaction aborts, was a third of
// a push's time), and what was left did not pay for its bytes in the bundle.

/** Resolves with the request's result, or rejects with its error. */
export function result<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Resolves when the transaction commits; rejects when it aborts, with the first failing request's error (a
 * ConstraintError, a QuotaExceededError), which says more than the abort that follows it.
 */
export function completion(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed: unknown;
    tx.oncomplete = () => resolve();
    tx.onerror = (event) => (failed ??= (event.target as IDBRequest | null)?.error);
    tx.onabort = () => reject(failed ?? tx.error ?? new DOMException('The transaction was aborted.', 'AbortError'));
  });
}

/** Aborts `tx` unless it already finished. */
export function abort(tx: IDBTransaction): void {
  try {
    tx.abort();
  } catch {
    // Already committed or aborted.
  }
}

/** Keys `[queue, segment, from…]` of one segment's chunks (the metadata's appends are segment -1). */
export const chunksOf = (queue: string, segment: number, from = 0): IDBKeyRange => IDBKeyRange.bound([queue, segment, from], [queue, segment, Infinity]);

/** Keys of every data chunk of a queue: segments are never negative, and `[q, 0]` sorts before `[q, 0, 0]`. */
export const dataOf = (queue: string): IDBKeyRange => IDBKeyRange.bound([queue, 0], [queue, Infinity]);

/** Keys `[queue, …]` of a queue's records in `segments` and `heads`. */
export const recordsOf = (queue: string): IDBKeyRange => IDBKeyRange.bound([queue, -Infinity], [queue, Infinity]);
