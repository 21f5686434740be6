/** One request for a lock, waiting or granted. */
interface Ask {
  readonly name: string;
  readonly context: FakeLocks;
  readonly grant: () => void;
  drop: () => void;
}

/**
 * The Web Locks API within one process, for Node tests (Node 20 has no `navigator.locks`): exclusive locks granted in
 * the order asked, `ifAvailable`, `signal`, and `query()`. The manager is the origin's; `context()` is one tab's or worker's
 * `navigator.locks`, and `kill()` ends that context the way a crashed tab ends: the locks it holds are released and
 * its waiting requests dropped, without its callbacks being told.
 */
export class FakeLockManager {
  readonly held = new Map<string, Ask>();
  readonly pending: Ask[] = [];

  context(): FakeLocks {
    return new FakeLocks(this);
  }

  /** Grants every waiting request whose lock is free, in the order asked. */
  next(): void {
    for (const ask of [...this.pending]) {
      if (this.held.has(ask.name)) continue;
      this.pending.splice(this.pending.indexOf(ask), 1);
      this.held.set(ask.name, ask);
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
    ...args: [callback: (lock: unknown) => unknown] | [options: { ifAvailable?: boolean; signal?: AbortSignal }, callback: (lock: unknown) => unknown]
  ): Promise<unknown> {
    const callback = args.length === 1 ? args[0] : args[1];
    const options = args.length === 1 ? {} : args[0];
    const manager = this.#manager;
    if (this.#dead) return new Promise(() => undefined);
    if (options.ifAvailable && (manager.held.has(name) || manager.pending.some((a) => a.name === name))) return Promise.resolve(callback(null));
    return new Promise((resolve, reject) => {
      const ask: Ask = {
        name,
        context: this,
        grant: () => {
          // Released when the callback's promise settles (or at once when the context is killed).
          const release = () => {
            if (manager.held.get(name) !== ask) return;
            manager.held.delete(name);
            manager.next();
          };
          ask.drop = release;
          Promise.resolve()
            .then(() => callback({ name, mode: 'exclusive' }))
            .then(
              (value) => (release(), resolve(value)),
              (error: unknown) => (release(), reject(error)),
            );
        },
        drop: () => manager.pending.splice(manager.pending.indexOf(ask), 1),
      };
      manager.pending.push(ask);
      // An aborted signal takes back a request not yet granted.
      options.signal?.addEventListener('abort', () => {
        if (!manager.pending.includes(ask)) return;
        ask.drop();
        reject(new DOMException('The request was aborted.', 'AbortError'));
      });
      manager.next();
    });
  }

  async query(): Promise<{ held: { name: string }[]; pending: { name: string }[] }> {
    const m = this.#manager;
    return { held: [...m.held.keys()].map((name) => ({ name })), pending: m.pending.map((a) => ({ name: a.name })) };
  }

  /** Ends this context as a crash does: its locks go to whoever waits for them. */
  kill(): void {
    this.#dead = true;
    const m = this.#manager;
    for (const ask of [...m.pending]) if (ask.context === this) ask.drop();
    for (const ask of [...m.held.values()]) if (ask.context === this) ask.drop();
  }
}
