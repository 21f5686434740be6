import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { errno, unlinkQuiet } from './files.js';
import { createFile, NOFOLLOW } from './permissions.js';
import { fileTag, liveness, type ProcessId, thisProcess } from './process-id.js';

/** A lock file as read: who holds it (or `unreadable`: a power cut can leave one whose content never reached the disk), which inode it is, how old. */
interface LockFile {
  readonly holder: ProcessId | 'unreadable';
  readonly ino: number;
  readonly mtimeMs: number;
}

/**
 * A lock between processes on one queue directory: a `lock` file naming its owner (host, boot, pid and the pid's
 * start time, pid namespace). It appears whole
 * or not at all, because taking it is `link`ing it to a file the owner wrote beforehand (an O_EXCL create followed
 * by a write would leave an empty, unattributable lock if killed in between). It is held per commit, so processes
 * interleave.
 *
 * A lock whose holder is provably gone (same host and pid namespace, and an earlier boot, or no such pid, or that pid
 * started at another time: pid 1 of a restarted container) is taken over at once, by an atomic rename, never
 * remove-then-create, which can leave two holders (proper-lockfile #121). Takeovers go one at a time through a
 * `lock.steal` file made the same way; a takeover that was itself killed leaves that file naming a dead process,
 * so it is cleared at once too. Lock files that cannot be judged count as abandoned after `staleMs` (a live
 * holder keeps the lock for one commit): those a power cut left unreadable, and those of a process in another pid
 * namespace on this host (another container), whose pids mean nothing here. A holder on another host is waited
 * for, never taken over.
 *
 * Cost: a `link` and an `unlink`, about 12 µs with the commit counter on a local disk, so holding it per commit is
 * affordable (pushes are group-committed: a busy process takes it once per batch, not per item). Holding it
 * across a burst of commits would save little and keep other processes waiting.
 */
export class ProcessLock {
  readonly #dir: string;
  readonly #path: string;
  readonly #guard: string;
  readonly #timeoutMs: number;
  readonly #staleMs: number;
  readonly #mode: number;
  /** This handle's lock content, written when the handle is made; taking the lock links it to `lock`. */
  readonly #own: string;
  readonly #me = thisProcess();
  /** The inode of `#own`: the lock is this handle's while `lock` is that inode. */
  #ino = 0;

  /** Lock files are made with `mode` (see `FileStoreOptions.mode`). */
  constructor(dir: string, timeoutMs: number, staleMs: number, mode: number) {
    this.#dir = dir;
    this.#mode = mode;
    this.#path = join(dir, 'lock');
    this.#guard = join(dir, 'lock.steal');
    this.#timeoutMs = timeoutMs;
    this.#staleMs = staleMs;
    this.#own = join(dir, `lock.${fileTag(this.#me)}.${randomBytes(4).toString('hex')}.own`);
    this.#writeOwn();
  }

  /** Removes this handle's lock content file. */
  dispose(): void {
    unlinkQuiet(this.#own);
  }

  /**
   * Takes the lock, waiting for a live holder up to the timeout ('ERR_LOCKED' naming its pid after that).
   * Resolves `true` when the lock was taken over from a dead holder, whose commit may be half done.
   */
  async acquire(): Promise<boolean> {
    const deadline = Date.now() + this.#timeoutMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      if (this.#link(this.#path)) return false;
      const lock = this.#read(this.#path);
      if (lock && this.#abandoned(lock) && this.#steal(lock)) return true;
      if (Date.now() >= deadline) {
        const { holder } = lock ?? {};
        const hidden = holder && holder !== 'unreadable' && liveness(holder) === 'hidden' ? ' in another pid namespace (another container)' : '';
        const who = holder === 'unreadable' ? 'a lock file whose holder cannot be read' : `process ${holder?.pid ?? '(unknown)'} on ${holder?.host ?? 'an unknown host'}${hidden}`;
        throw new SluiceError(
          'ERR_LOCKED',
          `The queue directory ${this.#dir} is locked by ${who}; waited ${this.#timeoutMs} ms (lockTimeoutMs). ` +
            `If that process is hung, stop it; a dead process's lock is taken over at once.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Gives the lock up. Only its holder calls this, and a live holder's lock is never taken over; but someone may
   * have removed the file meanwhile and another process taken the lock: theirs stays.
   */
  release(): void {
    try {
      if (lstatSync(this.#path).ino !== this.#ino) return;
    } catch (error) {
      if (errno(error) === 'ENOENT') return;
      throw error;
    }
    unlinkQuiet(this.#path);
  }

  /** Makes `path` a link to this handle's content: true when it did, false when `path` exists. */
  #link(path: string): boolean {
    try {
      linkSync(this.#own, path);
      return true;
    } catch (error) {
      if (errno(error) === 'EEXIST') return false;
      // This handle's content file is gone (a temp cleaner, say): written again, and linked.
      if (errno(error) === 'ENOENT' && !existsSync(this.#own)) {
        this.#writeOwn();
        return this.#link(path);
      }
      throw error;
    }
  }

  #writeOwn(): void {
    const fd = createFile(this.#own, constants.O_WRONLY, this.#mode);
    try {
      writeSync(fd, JSON.stringify(this.#me));
      this.#ino = fstatSync(fd).ino;
    } finally {
      closeSync(fd);
    }
  }

  /** Reads a lock file; undefined when there is none. Content and inode come from one descriptor, so they agree. */
  #read(path: string): LockFile | undefined {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const { ino, mtimeMs } = fstatSync(fd);
      return { holder: parseHolder(readFileSync(fd, 'utf8')), ino, mtimeMs };
    } finally {
      closeSync(fd);
    }
  }

  /** True when the lock's holder can no longer release it, or cannot be judged and has held it past `staleMs`. */
  #abandoned(lock: LockFile): boolean {
    const state = lock.holder === 'unreadable' ? 'unreadable' : liveness(lock.holder);
    if (state === 'dead') return true;
    return (state === 'unreadable' || state === 'hidden') && Date.now() - lock.mtimeMs > this.#staleMs;
  }

  /** Takes over the abandoned `dead` lock, unless another process is doing so or did. */
  #steal(dead: LockFile): boolean {
    if (!this.#link(this.#guard)) {
      const guard = this.#read(this.#guard);
      if (guard && this.#abandoned(guard)) this.#removeAbandoned(this.#guard, guard);
      return false;
    }
    try {
      // The one stealer checks again: the lock may have changed hands since it was judged abandoned (same inode
      // and same holder: an inode freed meanwhile could be reused by a new lock file).
      const now = this.#read(this.#path);
      if (!now || now.ino !== dead.ino || JSON.stringify(now.holder) !== JSON.stringify(dead.holder)) return false;
      const mine = join(this.#dir, `lock.${fileTag(this.#me)}.${randomBytes(4).toString('hex')}.tmp`);
      linkSync(this.#own, mine);
      renameSync(mine, this.#path);
      return true;
    } finally {
      unlinkQuiet(this.#guard);
    }
  }

  /**
   * Removes `path`, judged abandoned as `seen`. Moved aside first and checked: when it is no longer the file judged
   * (a live process made a new one meanwhile), that one is put back rather than lost.
   */
  #removeAbandoned(path: string, seen: LockFile): void {
    const aside = join(this.#dir, `lock.${fileTag(this.#me)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      renameSync(path, aside);
    } catch (error) {
      if (errno(error) === 'ENOENT') return;
      throw error;
    }
    try {
      if (statSync(aside).ino !== seen.ino) linkSync(aside, path);
    } catch (error) {
      // EEXIST: yet another one was made meanwhile; ENOENT: the aside file was itself cleared as a leftover.
      if (errno(error) !== 'EEXIST' && errno(error) !== 'ENOENT') throw error;
    } finally {
      unlinkQuiet(aside);
    }
  }
}

function parseHolder(text: string): ProcessId | 'unreadable' {
  try {
    const { pid, host, boot, start, ns } = JSON.parse(text) as Partial<ProcessId>;
    if (typeof pid === 'number' && typeof host === 'string') {
      return {
        pid,
        host,
        ...(typeof boot === 'string' && { boot }),
        ...(typeof start === 'number' && { start }),
        ...(typeof ns === 'string' && { ns }),
      };
    }
  } catch {
    // Not a lock this code wrote whole.
  }
  return 'unreadable';
}
