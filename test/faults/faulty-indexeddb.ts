/** What a transaction suffers: aborted after some of its requests (or when it commits), a write refused for quota. */
export type Fault = 'abort' | 'quota';

export interface FaultPlan {
  /** Chance that a readwrite transaction suffers a fault. */
  readonly write: number;
  /** Chance that a readonly transaction is aborted. */
  readonly read: number;
}

/**
 * An IDBFactory wrapping another, as one tab sees the origin's IndexedDB, that injects faults into the
 * transactions of the databases it opens: aborted transactions (the browser gives up on one: AbortError), writes
 * refused for quota (QuotaExceededError), failed reads. `kill()` ends the tab: its connections close and it makes
 * no transaction again (a dead tab runs no code), while a transaction it already made completes or aborts whole.
 */
export class FaultyIndexedDb {
  plan: FaultPlan = { write: 0, read: 0 };
  /** While set, every readonly transaction over this object store alone fails. */
  failReads: string | undefined;
  /** Faults injected so far, by kind. */
  readonly injected = { abort: 0, quota: 0, read: 0 };
  readonly #inner: IDBFactory;
  readonly #random: () => number;
  readonly #opened: IDBDatabase[] = [];
  #dead = false;

  constructor(inner: IDBFactory, random: () => number) {
    this.#inner = inner;
    this.#random = random;
  }

  /** The factory to hand to IndexedDbStore. */
  get factory(): IDBFactory {
    const self = this;
    const inner = this.#inner;
    return {
      open(name: string, version?: number) {
        const request = inner.open(name, version);
        return new Proxy(request, {
          get(target, prop) {
            if (prop === 'result' && target.readyState === 'done' && !target.error) return self.#database(target.result);
            return field(target, prop);
          },
          set: (target, prop, value) => Reflect.set(target, prop, value, target),
        });
      },
      deleteDatabase: (name: string) => inner.deleteDatabase(name),
      databases: () => inner.databases(),
      cmp: (a: unknown, b: unknown) => inner.cmp(a, b),
    } as IDBFactory;
  }

  kill(): void {
    this.#dead = true;
    for (const db of this.#opened) db.close();
  }

  #database(db: IDBDatabase): IDBDatabase {
    if (!this.#opened.includes(db)) this.#opened.push(db);
    return new Proxy(db, {
      get: (target, prop) => {
        if (prop !== 'transaction') return field(target, prop);
        return (scope: string | string[], mode: IDBTransactionMode = 'readonly', options?: IDBTransactionOptions) => {
          if (this.#dead) throw new DOMException('The tab is gone.', 'InvalidStateError');
          return this.#transaction(target.transaction(scope, mode, options), mode);
        };
      },
      set: (target, prop, value) => Reflect.set(target, prop, value, target),
    });
  }

  #transaction(tx: IDBTransaction, mode: IDBTransactionMode): IDBTransaction {
    const roll = this.#random();
    const { write, read } = this.plan;
    let fault: Fault | 'read' | undefined;
    if (mode === 'readwrite' && roll < write) fault = this.#random() < 0.5 ? 'abort' : 'quota';
    else if (mode === 'readonly' && (roll < read || [...tx.objectStoreNames].join() === this.failReads)) fault = 'read';
    // An abort comes after this many requests (or when the transaction is told to commit); a quota refusal hits the
    // first write.
    const after = Math.floor(this.#random() * 3);
    let requests = 0;
    let aborting = false;
    // The browser aborts a transaction from a task of its own, never between two requests of one synchronous block.
    const hit = () => {
      if (fault === 'abort' || fault === 'read') this.injected[fault]++;
      fault = undefined;
      aborting = true;
      queueMicrotask(() => {
        try {
          tx.abort();
        } catch {
          // It finished first.
        }
      });
    };
    const store = (inner: IDBObjectStore): IDBObjectStore =>
      new Proxy(inner, {
        get: (target, prop) => {
          const value = field(target, prop);
          if (typeof value !== 'function' || prop === 'index') return value;
          return (...args: unknown[]) => {
            if (fault === 'quota' && (prop === 'put' || prop === 'add')) {
              fault = undefined;
              this.injected.quota++;
              throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
            }
            const request = (value as (...a: unknown[]) => unknown)(...args);
            if ((fault === 'abort' && ++requests > after) || fault === 'read') hit();
            return request;
          };
        },
      });
    return new Proxy(tx, {
      get: (target, prop) => {
        if (prop === 'objectStore') return (name: string) => store(target.objectStore(name));
        if (prop === 'commit') return () => (fault === 'abort' ? hit() : aborting || target.commit());
        return field(target, prop);
      },
      set: (target, prop, value) => Reflect.set(target, prop, value, target),
    });
  }
}

/** A property of `target`, methods bound to it (so that they run on the real object, not the proxy). */
function field(target: object, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}
