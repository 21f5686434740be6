import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../../core/errors.js';

interface Holder {
  readonly pid: number;
  readonly host: string;
}

/** What a lock file says: its holder, or `unreadable` (a power cut can leave a lock file whose content never reached the disk). */
type LockContent = Holder | 'unreadable';

/** True when `holder` is certainly dead: same host, and no process has its pid. */
export function isDead(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the pid exists but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * A lock between processes on one queue directory: a file holding the owner's pid and host, which appears whole
 * or not at all, because it is a hard link to a file the owner wrote beforehand (an O_EXCL create followed by a
 * write would leave an empty, unattributable lock if killed in between). It is held per commit, so processes
 * interleave. A lock left by a dead process is taken over only when its owner is provably gone (same host, no such
 * pid), one stealer at a time (a `mkdir` guard, itself cleared after `staleMs` when its maker died), by an atomic
 * rename: never remove-then-create, which can leave two holders (proper-lockfile #121).
 *
 * Cost: a `link` and an `unlink`, about 10 µs together on a local disk, so holding it per commit is affordable
 * (pushes are group-committed, so a busy process takes it once per batch, not per item). Holding it across a
 * burst of commits would save little and keep other processes waiting.
 */
export class ProcessLock {
  readonly #path: string;
  readonly #dir: string;
  readonly #content: string;
  readonly #timeoutMs: number;
  readonly #staleMs: number;
  /** This handle's lock content, written once; acquiring links it to `lock`. */
  readonly #own: string;

  constructor(dir: string, timeoutMs: number, staleMs: number) {
    this.#dir = dir;
    this.#path = join(dir, 'lock');
    this.#timeoutMs = timeoutMs;
    this.#staleMs = staleMs;
    this.#content = JSON.stringify({ pid: process.pid, host: hostname() });
    this.#own = join(dir, `lock.${process.pid}.${randomBytes(4).toString('hex')}.own`);
    writeFileSync(this.#own, this.#content);
  }

  /** Removes this handle's lock content file. */
  dispose(): void {
    try {
      unlinkSync(this.#own);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** Removes lock content files of processes that died without disposing of theirs. */
  static cleanUp(dir: string): void {
    const host = hostname();
    for (const name of readdirSync(dir)) {
      const match = /^lock\.(\d+)\.[0-9a-f]+\.own$/.exec(name);
      if (match && isDead({ pid: Number(match[1]), host })) unlinkSync(join(dir, name));
    }
  }

  /**
   * Takes the lock, waiting for a live holder up to the timeout ('ERR_LOCKED' naming its pid after that).
   * Resolves `true` when the lock was taken over from a dead holder, whose commit may be half done.
   */
  async acquire(): Promise<boolean> {
    const deadline = Date.now() + this.#timeoutMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      if (this.#tryCreate()) return false;
      const holder = this.#holder();
      if (holder && this.#abandoned(holder) && this.#steal(holder)) return true;
      if (Date.now() >= deadline) {
        const who = holder === 'unreadable' ? 'a lock file whose holder cannot be read' : `process ${holder?.pid ?? '(unknown)'} on ${holder?.host ?? 'an unknown host'}`;
        throw new SluiceError(
          'ERR_LOCKED',
          `The queue directory ${this.#dir} is locked by ${who}; ` +
            `waited ${this.#timeoutMs} ms (lockTimeoutMs). If that process is hung, stop it; a dead process's lock is taken over at once.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Gives the lock up. Only its holder calls this, and a live holder's lock is never taken over. */
  release(): void {
    unlinkSync(this.#path);
  }

  #tryCreate(): boolean {
    try {
      linkSync(this.#own, this.#path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new SluiceError('ERR_STORAGE', `Cannot create the lock file ${this.#path}.`, { cause: error });
    }
  }

  /** The lock file's content, or undefined when there is no lock file (released meanwhile). */
  #holder(): LockContent | undefined {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as Partial<Holder>;
      if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host };
    } catch {
      // Falls through: not a lock this code wrote whole.
    }
    return 'unreadable';
  }

  /**
   * True when the holder can no longer release the lock: a dead process, or a lock file whose content is unreadable
   * and older than `staleMs`. Lock files appear whole (a hard link to content written before), so an unreadable one
   * is what a power cut left, or another program's doing: never a live holder's lock.
   */
  #abandoned(holder: LockContent): boolean {
    if (holder !== 'unreadable') return isDead(holder);
    try {
      return Date.now() - statSync(this.#path).mtimeMs > this.#staleMs;
    } catch {
      return false;
    }
  }

  #steal(dead: LockContent): boolean {
    const guard = `${this.#path}.steal`;
    try {
      mkdirSync(guard);
    } catch {
      // Another process is stealing (for microseconds); a guard left by a stealer that died is cleared once stale.
      try {
        if (Date.now() - statSync(guard).mtimeMs > this.#staleMs) rmdirSync(guard);
      } catch {
        // Gone meanwhile.
      }
      return false;
    }
    try {
      // Checked again by the one stealer: the lock may have changed hands since it was judged abandoned.
      const holder = this.#holder();
      if (!holder || !this.#abandoned(holder) || JSON.stringify(holder) !== JSON.stringify(dead)) return false;
      const mine = `${this.#path}.${process.pid}.tmp`;
      const fd = openSync(mine, 'w');
      try {
        writeSync(fd, this.#content);
      } finally {
        closeSync(fd);
      }
      renameSync(mine, this.#path);
      return true;
    } finally {
      rmdirSync(guard);
    }
  }
}
