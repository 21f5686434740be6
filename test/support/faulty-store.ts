import type { HeldStorage, QueueStorage, Store } from '../../src/core/store.js';

type Method = 'load' | 'token' | 'read' | 'commit' | 'close' | 'isGone';

interface Fault {
  readonly storage: string | undefined;
  readonly method: Method;
  readonly error: unknown;
  /** A commit that fails after it stored (a reply lost on the way back). */
  readonly landed: boolean;
  times: number;
}

/**
 * A user's Store as sluice meets it: another store behind it, whose calls fail with a raw error when told. `fail`
 * fails the next `times` calls of one method (of the storage `storage`, or of any); `before` runs a hook before each
 * commit of a storage (to abort a signal while a commit is under way, say).
 */
export class FaultyStore implements Store {
  readonly #inner: Store;
  readonly #faults: Fault[] = [];
  /** Runs before each commit is passed on; a storage's name, the batch. */
  beforeCommit: ((storage: string) => void | Promise<void>) | undefined;
  /** Calls of each method, by storage name. */
  readonly calls = new Map<string, number>();

  /** The store behind it: handles on either share its queues. */
  readonly scope?: string;
  /** The store behind it's, where it has one. */
  readonly exists?: (name: string) => Promise<boolean>;

  /** `unwatched`: tells no commits of other handles (as a store without `watch`): they are seen when next read. */
  readonly #watched: boolean;

  constructor(inner: Store, options: { unwatched?: boolean } = {}) {
    this.#inner = inner;
    this.#watched = !options.unwatched;
    if (inner.scope !== undefined) this.scope = inner.scope;
    // Only where the store behind it can tell: one that answered true for every name had a Queue refused as an outbox's.
    if (inner.exists) this.exists = (name) => inner.exists!(name);
  }

  fail(method: Method, options: { storage?: string; error?: unknown; times?: number; landed?: boolean } = {}): void {
    this.#faults.push({ storage: options.storage, method, error: options.error ?? new Error(`${method} failed`), landed: options.landed ?? false, times: options.times ?? 1 });
  }

  /** Forgets faults not yet met. */
  heal(): void {
    this.#faults.length = 0;
  }

  /** The fault the next call of `method` meets, if any (counted as met). */
  #fault(name: string, method: Method): Fault | undefined {
    const key = `${name}:${method}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    const fault = this.#faults.find((f) => f.method === method && (f.storage === undefined || f.storage === name) && f.times > 0);
    if (fault) fault.times--;
    return fault;
  }

  #check(name: string, method: Method): void {
    const fault = this.#fault(name, method);
    if (fault) throw fault.error;
  }

  async open(name: string): Promise<QueueStorage> {
    const inner = await this.#inner.open(name);
    const check = (method: Method) => this.#check(name, method);
    const held = (h: HeldStorage): HeldStorage => ({
      load: async () => (check('load'), h.load()),
      commit: async (token, batch) => {
        await this.beforeCommit?.(name);
        const fault = this.#fault(name, 'commit');
        if (!fault) return h.commit(token, batch);
        if (fault.landed) await h.commit(token, batch);
        throw fault.error;
      },
    });
    const storage: QueueStorage = {
      ...held(inner),
      token: async () => (check('token'), inner.token()),
      read: async (segment, start, end) => (check('read'), inner.read(segment, start, end)),
      close: async () => {
        await inner.close();
        check('close');
      },
      ...(inner.exclusive && { exclusive: <R>(fn: (h: HeldStorage) => Promise<R>) => inner.exclusive!((h) => fn(held(h))) }),
      ...(inner.watch && this.#watched && { watch: inner.watch.bind(inner) }),
      ...(inner.owner !== undefined && { owner: inner.owner }),
      ...(inner.isGone && { isGone: async (owner: string) => (check('isGone'), inner.isGone!(owner)) }),
      ...(inner.blobs && { blobs: inner.blobs }),
    };
    return storage;
  }

}
