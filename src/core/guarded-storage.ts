import { storageError } from './storage-errors.js';
import type { BlobStorage, HeldStorage, QueueStorage, Store } from './store.js';

/**
 * `call()`, a store's call, failing (synchronously or not) as `storageError` says: a store of the user's that throws
 * a raw error (a TypeError, a driver's) rejects as every built-in store's failure does, a SluiceError with a code,
 * the raw error its `cause`. A SluiceError passes through unchanged.
 */
function guard<R>(call: () => R | Promise<R>, message: () => string): Promise<R> {
  try {
    return Promise.resolve(call()).catch((error: unknown) => {
      throw storageError(error, message());
    });
  } catch (error) {
    return Promise.reject(storageError(error, message()));
  }
}

/** `store.open(storage)` of the queue `queue`, what it opens guarded (see `guarded`). */
export function openGuarded(store: Store, storage: string, queue: string): Promise<QueueStorage> {
  return guard(() => store.open(storage), () => `The store failed to open ${named(storage, queue)}.`).then((opened) => guarded(opened, storage, queue));
}

/** `store.exists(storage)`, guarded; undefined where the store cannot tell. */
export function existsGuarded(store: Store, storage: string, queue: string): Promise<boolean | undefined> {
  if (!store.exists) return Promise.resolve(undefined);
  return guard(() => store.exists!(storage), () => `The store failed to tell whether ${named(storage, queue)} exists.`);
}

/**
 * `storage` as the queue uses it: every call that fails rejects with a SluiceError (see `guard`). `commit` is passed
 * on as it is: `CommitView` translates its failure itself, with no promise more on the way of a push. A failure of
 * `exclusive` is the store's only where `fn` did not throw it: what the plan run under the lock throws (a filter's
 * error, a refusal) passes through as it is.
 */
export function guarded(storage: QueueStorage, name: string, queue: string): QueueStorage {
  const where = named(name, queue);
  const held = (h: HeldStorage): HeldStorage => ({
    load: () => guard(() => h.load(), () => `The store failed to read ${where}.`),
    commit: (token, batch) => h.commit(token, batch),
  });
  const out: { -readonly [K in keyof QueueStorage]: QueueStorage[K] } = {
    ...held(storage),
    token: () => guard(() => storage.token(), () => `The store failed to tell whether ${where} changed.`),
    read: (segment, start, end) => guard(() => storage.read(segment, start, end), () => `The store failed to read segment ${segment} of ${where}.`),
    close: () => guard(() => storage.close(), () => `The store failed to close ${where}.`),
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
        throw storageError(error, `The store failed to lock ${where}.`);
      }
    };
  }
  if (storage.watch) out.watch = storage.watch.bind(storage);
  // Read through: a store may change it (a Redis handle judged gone goes on under a new owner).
  Object.defineProperty(out, 'owner', { get: () => storage.owner, enumerable: true });
  if (storage.isGone) {
    const isGone = storage.isGone.bind(storage);
    out.isGone = (owner) => guard(() => isGone(owner), () => `The store failed to tell whether a handle of ${where} is gone.`);
  }
  if (storage.blobs) out.blobs = guardedBlobs(storage.blobs, where);
  return out;
}

/** `blobs`, every call guarded (see `guard`). */
function guardedBlobs(blobs: BlobStorage, where: string): BlobStorage {
  return {
    write: (key, offset, bytes, durability) => guard(() => blobs.write(key, offset, bytes, durability), () => `The store failed to write the blob ${key} of ${where}.`),
    read: (key, start, end) => guard(() => blobs.read(key, start, end), () => `The store failed to read the blob ${key} of ${where}.`),
    delete: (keys) => guard(() => blobs.delete(keys), () => `The store failed to delete blobs of ${where}.`),
    keys: () => guard(() => blobs.keys(), () => `The store failed to list the blobs of ${where}.`),
  };
}

/** The queue `queue`, with the storage `storage` of it named where that is another (a partition, its members' list). */
function named(storage: string, queue: string): string {
  return storage === queue ? `queue "${queue}"` : `queue "${queue}" (its storage "${storage}")`;
}
