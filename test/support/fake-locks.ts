type Mode = 'exclusive' | 'shared';

/** One request for a lock, waiting or granted. */
interface Ask {
  readonly name: string;
  readonly mode: Mode;
  readonly context: FakeLocks;
  readonly grant: () => void;
  drop: () => void;
  /** Takes a granted lock away, as another's `steal` does: released, and the request rejected with an AbortError. */
  steal?: () => void;
}

/**
 * The Web Locks API within one process, for Node tests (Node 20 has no `navigator.locks`): exclusive and shared
 * locks granted in the order asked, `ifAvailable`, `signal`, and `query()`. The manager is the origin's;
 * `context()` is one tab's or worker's `navigator.locks`, and `kill()` ends that context the way a crashed tab ends:
 * the locks it holds are released and its waiting requests dropped, without its callbacks being told. `steal`
 * takes a held lock away, telling its holder only by rejecting the holder's request, as browsers do.
 */
export class FakeLockManager {
  readonly holders: Ask[] = [];
  readonly pending: Ask[] = [];

  context(): FakeLocks {
    return new FakeLocks(this);
  }

  /** Names held in any mode. */
  get held(): Map<string, Mode> {
    return new Map(this.holders.map((ask) => [ask.name, ask.mode]));
  }

  /** Whether `ask` could be granted now: an exclusive lock wants no holder, a shared one no exclusive holder. */
  free(name: string, mode: Mode): boolean {
    const holders = this.holders.filter((h) => h.name === name);
    return mode === 'exclusive' ? holders.length === 0 : holders.every((h) => h.mode === 'shared');
  }

  /** Grants waiting requests in the order asked, per name: one that must wait holds back those after it. */
  next(): void {
    const blocked = new Set<string>();
    for (const ask of [...this.pending]) {
      if (blocked.has(ask.name)) continue;
      if (!this.free(ask.name, ask.mode)) {
        blocked.add(ask.name);
        continue;
      }
      this.pending.splice(this.pending.indexOf(ask), 1);
      this.holders.push(ask);
      ask.grant();
    }
  }
}

export class FakeLocks {
  readonly #manager: FakeLockManager;
  #dead = false;

  constructor(manager: FakeLockManager) {
    this.#manager = manager;
  }

  request(
    name: string,
    ...args:
      | [callback: (lock: unknown) => unknown]
      | [options: { ifAvailable?: boolean; steal?: boolean; signal?: AbortSignal; mode?: Mode }, callback: (lock: unknown) => unknown]
  ): Promise<unknown> {
    const callback = args.length === 1 ? args[0] : args[1];
    const options = args.length === 1 ? {} : args[0];
    const mode = options.mode ?? 'exclusive';
    const manager = this.#manager;
    if (this.#dead) return new Promise(() => undefined);
    if (options.ifAvailable && (!manager.free(name, mode) || manager.pending.some((a) => a.name === name))) return Promise.resolve(callback(null));
    return new Promise((resolve, reject) => {
      const ask: Ask = {
        name,
        mode,
        context: this,
        grant: () => {
          // Released when the callback's promise settles (or at once when the context is killed).
          const release = () => {
            const at = manager.holders.indexOf(ask);
            if (at < 0) return;
            manager.holders.splice(at, 1);
            manager.next();
          };
          ask.drop = release;
          ask.steal = () => (release(), reject(new DOMException('The lock was stolen.', 'AbortError')));
          Promise.resolve()
            .then(() => callback({ name, mode }))
            .then(
              (value) => (release(), resolve(value)),
              (error: unknown) => (release(), reject(error)),
            );
        },
        drop: () => manager.pending.splice(manager.pending.indexOf(ask), 1),
      };
      // A steal goes before every request waiting, and takes the lock from whoever holds it.
      if (options.steal) {
        manager.pending.unshift(ask);
        for (const held of manager.holders.filter((h) => h.name === name)) held.steal?.();
      } else manager.pending.push(ask);
      // An aborted signal takes back a request not yet granted.
      options.signal?.addEventListener('abort', () => {
        if (!manager.pending.includes(ask)) return;
        ask.drop();
        reject(new DOMException('The request was aborted.', 'AbortError'));
      });
      manager.next();
    });
  }

  async query(): Promise<{ held: { name: string; mode: Mode }[]; pending: { name: string; mode: Mode }[] }> {
    const m = this.#manager;
    return { held: m.holders.map(({ name, mode }) => ({ name, mode })), pending: m.pending.map(({ name, mode }) => ({ name, mode })) };
  }

  /** Ends this context as a crash does: its locks go to whoever waits for them. */
  kill(): void {
    this.#dead = true;
    this.evict();
  }

  /**
   * Takes this context's locks and requests away while it lives on, as WebKit does to a page going into the
   * back/forward cache: they go to whoever waits, and the callbacks' promises are never told. Later requests work.
   */
  evict(): void {
    const m = this.#manager;
    for (const ask of [...m.pending]) if (ask.context === this) ask.drop();
    for (const ask of [...m.holders]) if (ask.context === this) ask.drop();
  }
}
