import { MAX_NAME } from './options.js';
import { partitionName } from './partitioned.js';
import { storageError } from './storage-errors.js';
import type { BlobStorage, HeldStorage, OpenHints, QueueStorage, Store } from './store.js';

/**
 * `call()`, a store's call `what` on `where`, failing (synchronously or not) as `storageError` says: a store of the
 * user's that throws a raw error (a TypeError, a driver's) rejects as every built-in store's failure does, a
 * SluiceError with a code, the raw error its `cause`. A SluiceError passes through unchanged.
 */
function guard<R>(call: () => R | Promise<R>, what: string, where: string): Promise<R> {
  const fail = (error: unknown) => storageError(error, `The store failed to ${what} of ${where}.`);
  try {
    return Promise.resolve(call()).catch((error: unknown) => {
      throw fail(error);
    });
  } catch (error) {
    return Promise.reject(fail(error));
  }
}

/** `store.open(storage, hints)` of the queue `queue`, what it opens guarded (see `guarded`). */
export function openGuarded(store: Store, storage: string, queue: string, hints?: OpenHints): Promise<QueueStorage> {
  const where = named(storage, queue);
  return guard(() => (hints ? store.open(storage, hints) : store.open(storage)), 'open the storage', where).then((opened) => guarded(opened, where));
}

/** `store.exists(storage)`, guarded; undefined where the store cannot tell. */
export function existsGuarded(store: Store, storage: string, queue: string): Promise<boolean | undefined> {
  return store.exists ? guard(() => store.exists!(storage), 'tell whether there is storage', named(storage, queue)) : Promise.resolve(undefined);
}

/**
 * Whether partition `p` of the queue `queue` has storage. One whose name would be over MAX_NAME characters was never
 * made (the queue has fewer partitions), and no store is asked about a name it refuses (one near MAX_NAME would fail).
 */
export function partitionExists(store: Store, queue: string, p: number): Promise<boolean | undefined> {
  const storage = partitionName(queue, p);
  return storage.length > MAX_NAME ? Promise.resolve(false) : existsGuarded(store, storage, queue);
}

/**
 * `storage` as the queue uses it: every call that fails rejects with a SluiceError (see `guard`). `commit` is passed
 * on as it is: `CommitView` translates its failure itself, with no promise more on the way of a push. A failure of
 * `exclusive` is the store's only where `fn` did not throw it: what the plan run under the lock throws (a filter's
 * error, a refusal) passes through as it is.
 */
function guarded(storage: QueueStorage, where: string): QueueStorage {
  const held = (h: HeldStorage): HeldStorage => ({ load: () => guard(() => h.load(), 'read the storage', where), commit: (token, batch) => h.commit(token, batch) });
  const out: { -readonly [K in keyof QueueStorage]: QueueStorage[K] } = {
    ...held(storage),
    token: () => guard(() => storage.token(), 'read the token', where),
    read: (segment, start, end) => guard(() => storage.read(segment, start, end), `read segment ${segment}`, where),
    close: () => guard(() => storage.close(), 'close the storage', where),
  };
  if (storage.exclusive) {
    const exclusive = storage.exclusive.bind(storage);
    out.exclusive = async <R>(fn: (held: HeldStorage) => Promise<R>): Promise<R> => {
      let thrown: { error: unknown } | undefined;
      try {
        return await exclusive(async (h) => {
          try {
            return await fn(held(h));
          } catch (error) {
            thrown = { error };
            throw error;
          }
        });
      } catch (error) {
        if (thrown?.error === error) throw error;
        throw storageError(error, `The store failed to lock the storage of ${where}.`);
      }
    };
  }
  if (storage.watch) out.watch = storage.watch.bind(storage);
  if (storage.relist) out.relist = storage.relist.bind(storage);
  // Read through: a store may change it (a Redis handle judged gone goes on under a new owner).
  Object.defineProperty(out, 'owner', { get: () => storage.owner, enumerable: true });
  // Synchronous and asked before each request an outbox sends: a store's own check, nothing to guard.
  if (storage.leasesInDoubt) out.leasesInDoubt = storage.leasesInDoubt.bind(storage);
  if (storage.isGone) {
    const isGone = storage.isGone.bind(storage);
    out.isGone = (owner) => guard(() => isGone(owner), 'tell whether a handle is gone', where);
  }
  const blobs = storage.blobs;
  if (blobs) {
    out.blobs = {
      write: (key, offset, bytes, durability) => guard(() => blobs.write(key, offset, bytes, durability), `write blob ${key}`, where),
      read: (key, start, end) => guard(() => blobs.read(key, start, end), `read blob ${key}`, where),
      delete: (keys) => guard(() => blobs.delete(keys), 'delete blobs', where),
      keys: () => guard(() => blobs.keys(), 'list blobs', where),
    } satisfies BlobStorage;
  }
  return out;
}

/** The queue `queue`, with the storage `storage` of it named where that is another (a partition, its members' list). */
function named(storage: string, queue: string): string {
  return storage === queue ? `queue "${queue}"` : `queue "${queue}" (storage "${storage}")`;
}
