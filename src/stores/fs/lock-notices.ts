import { type FSWatcher, watch } from 'node:fs';

/**
 * Change notices of the lock files in a queue directory, for a handle waiting for the lock: it wakes as soon as the
 * lock (or the turn) is given up, instead of sleeping on a timer while the lock lies free. The notices come from
 * the file system (inotify on Linux, FSEvents or kqueue elsewhere) on a watch of the directory, filtered by name;
 * a short timer stands behind them (see `next`), for file systems that send none (network mounts) and notices
 * lost or coalesced. Made per wait, closed when the lock is taken: an idle handle watches nothing.
 */
export class LockNotices {
  /** The names whose changes wake the waiter (see `watchFor`). */
  #names: ReadonlySet<string>;
  #watcher: FSWatcher | undefined;
  /** A notice came since the last `next`: the next one resolves at once. */
  #noticed = false;
  #wake: ((noticed: boolean) => void) | undefined;

  /** Watches `dir` for changes of the files `names`. */
  constructor(dir: string, names: ReadonlySet<string>) {
    this.#names = names;
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, name) => {
        // Some platforms do not say which file changed: then any change may be the lock's.
        if (name !== null && !this.#names.has(String(name))) return;
        this.#noticed = true;
        this.#wake?.(true);
      });
      // Out of watches (ENOSPC), the directory gone: the timer alone then.
      this.#watcher.on('error', () => this.#unwatch());
    } catch {
      this.#watcher = undefined;
    }
  }

  /** From now on, changes of the files `names` only wake the waiter. */
  watchFor(names: ReadonlySet<string>): void {
    this.#names = names;
  }

  /** True while notices come; false when only the timer is left. */
  get watching(): boolean {
    return this.#watcher !== undefined;
  }

  /** Resolves at the next notice (at once if one came since the last call), or after `ms`; says which it was. */
  next(ms: number): Promise<boolean> {
    if (this.#noticed) {
      this.#noticed = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), ms);
      const done = (noticed: boolean) => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#noticed = false;
        resolve(noticed);
      };
      this.#wake = done;
    });
  }

  close(): void {
    this.#unwatch();
    this.#wake?.(false);
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
