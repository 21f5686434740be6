import { type FSWatcher, watch } from 'node:fs';
import { realClearTimeout, realSetTimeout } from '../../core/real-timers.js';
import { errno } from './files.js';

/**
 * Change notices of one lock file, for a handle waiting for the lock: it wakes as soon as the file's holder gives it
 * up (or takes it again), instead of sleeping on a timer while the lock lies free. A lock file is a link to its
 * holder's content (see `LockFiles`), so a watch of its path is a watch of that content: the file system's notices
 * (inotify on Linux, FSEvents or kqueue elsewhere) come when its links change, and none for the queue's other files.
 * A watch of the whole directory would wake every waiter at every write of every commit, and on a busy queue those
 * wake-ups cost the holder more CPU than its commits. A watch follows one holder: the waiter watches again when
 * the path names another file. A short timer stands behind the notices (see `next`), for file systems that send
 * none (network mounts) and notices lost or coalesced. Closed when the lock is taken: an idle handle watches nothing.
 */
export class LockNotices {
  #watcher: FSWatcher | undefined;
  /** The path and inode watched; undefined when none. */
  #target: string | undefined;
  /** A notice came since the last `next`: the next one resolves at once. */
  #noticed = false;
  #wake: ((noticed: boolean) => void) | undefined;

  /**
   * Watches the file at `path`, which a look just found to be inode `ino` (undefined: no file there, nothing to
   * watch). True when that is not what was watched: the file may have changed between the look and the watch, so
   * the caller looks again before it sleeps.
   */
  watch(path: string, ino: number | undefined): boolean {
    const target = ino === undefined ? undefined : `${path}:${ino}`;
    if (target === this.#target && (target === undefined || this.#watcher)) return false;
    this.#unwatch();
    this.#target = target;
    if (target === undefined) return true;
    try {
      this.#watcher = watch(path, { persistent: false }, () => {
        this.#noticed = true;
        this.#wake?.(true);
      });
      // Out of watches (ENOSPC), the file system gone: the timer alone then.
      this.#watcher.on('error', () => this.#unwatch());
    } catch (error) {
      // Gone since the look: that is a change.
      if (errno(error) === 'ENOENT') this.#noticed = true;
    }
    return true;
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
      // The platform's own timer: fake timers in the app's tests would never wake a waiter (see real-timers.ts).
      const timer = realSetTimeout(() => done(false), ms);
      const done = (noticed: boolean) => {
        realClearTimeout(timer);
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
