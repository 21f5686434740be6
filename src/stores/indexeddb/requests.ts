// The few promise helpers the store needs over the bare IndexedDB API. The store used idb's wrappers once; the hot
// paths went around them (a promise per request, each rejecting unhandled when a transaction aborts, was a third of
// a push's time), and what was left did not pay for its bytes in the bundle.

/** The waits on each connection's transactions and requests, ended by `forcedClosed`. */
const waits = new WeakMap<IDBDatabase, Set<(error: unknown) => void>>();

/**
 * The browser closed `db` itself (the site's data cleared, `Clear-Site-Data: "storage"` on a logout): every wait on
 * its transactions and requests rejects with `error`. The spec aborts them; Chromium and Firefox leave some unsettled
 * for good, and the call waiting on one held its queue's writer lock, in every tab, until the page went away.
 */
export function forcedClosed(db: IDBDatabase, error: unknown): void {
  const pending = waits.get(db);
  waits.delete(db);
  pending?.forEach((reject) => reject(error));
}

/** A promise settled by `body`, or rejected when `db` is closed by the browser (see `forcedClosed`). */
export function untilClosed<T>(db: IDBDatabase, body: (resolve: (value: T) => void, reject: (error: unknown) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let pending = waits.get(db);
    if (!pending) waits.set(db, (pending = new Set()));
    const set = pending;
    set.add(reject);
    body(
      (value) => (set.delete(reject), resolve(value)),
      (error) => (set.delete(reject), reject(error)),
    );
  });
}

/** Resolves with the request's result, or rejects with its error. */
export function result<T>(request: IDBRequest<T>): Promise<T> {
  // A request's `transaction` is its store's (fake-indexeddb sets it on the request only once it runs).
  const source = request.source as IDBObjectStore | IDBIndex;
  return untilClosed((request.transaction ?? ('objectStore' in source ? source.objectStore : source).transaction).db, (resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Resolves when the transaction commits; rejects when it aborts, with the first failing request's error (a
 * ConstraintError, a QuotaExceededError), which says more than the abort that follows it.
 */
export function completion(tx: IDBTransaction): Promise<void> {
  return untilClosed<void>(tx.db, (resolve, reject) => {
    let failed: unknown;
    tx.oncomplete = () => resolve();
    tx.onerror = (event) => (failed ??= (event.target as IDBRequest | null)?.error);
    tx.onabort = () => reject(failed ?? tx.error ?? new DOMException('The transaction was aborted.', 'AbortError'));
  });
}

/**
 * Whether `error` is the refusal Firefox gives the first readwrite transaction after one a full quota aborted (an
 * InvalidStateError, thrown at once), letting the next through: such a write is tried again once, so that a full quota
 * is told as ERR_QUOTA_EXCEEDED, not every other write as ERR_STORAGE.
 */
export function refusedAfterQuota(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'InvalidStateError';
}

/**
 * Commits `tx` once its requests are done, every one of them issued: the engine then finishes it without waiting for
 * this page to take their results. A page the browser froze (a background tab, Android) can still run a task, and a
 * transaction it begins then would otherwise stay open until it is thawed, and every readwrite transaction on those
 * stores, in every tab, wait behind it: each tab's outbox stopped.
 */
export function settle(tx: { commit?(): void }): void {
  tx.commit?.();
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
