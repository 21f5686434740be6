import { chmodSync, existsSync, fdatasync as fdatasyncCallback, fsync as fsyncCallback } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { checkName } from '../../core/options.js';
import { check, checkedOptions, integer, invalid, isBoolean } from '../../core/validate.js';
import type { QueueStorage, Store } from '../../core/store.js';
import { fileError } from './descriptors.js';
import { errno, type FileSync, nodeSync, syncDir } from './files.js';
import { ProcessLock } from './lock.js';
import { makeDirs } from './make-dirs.js';
import { checkDirectory, checkMode, directoryMode } from './permissions.js';
import { FileQueueStorage } from './queue-storage.js';
import { holdsQueue } from './queue-marks.js';

export type { FileSync } from './files.js';

/** A UTF-16 code unit of a surrogate pair without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Options of `new FileStore()`. */
export interface FileStoreOptions {
  /**
   * The directory holding one sub-directory per queue; created when absent. A relative path is resolved against
   * the working directory when the store is made.
   * @default '.sluice'
   */
  readonly dir?: string | undefined;
  /**
   * How long a commit waits while another live process holds the queue's lock (each holds it for one commit, a
   * few microseconds to one fsync) before failing with 'ERR_LOCKED' naming that process. A lock left by a process
   * that died is taken over at once, whatever this says. An integer from 0 to 2^31 (about 24.8 days; Infinity is refused).
   * @default 10_000
   */
  readonly lockTimeoutMs?: number | undefined;
  /**
   * A lock file (or takeover marker) whose holder cannot be judged counts as abandoned once its holder began holding it
   * this long ago (a holder dates its lock as each run of commits begins): one whose content cannot be read, which only
   * a power cut leaves behind (lock files appear whole), or one held by a process in another pid namespace on this host
   * (another container), whose pid means nothing here. A live holder keeps the lock for one commit. Locks of processes
   * provably dead (this host and pid namespace; no such pid, or that pid started at another time, or an earlier boot)
   * do not wait for it. An integer from 0 to 2^31 (Infinity is refused).
   * @default 10_000
   */
  readonly staleMs?: number | undefined;
  /**
   * How files are pressed to the medium. Replace it to see how the store meets a failing disk (an fsync error
   * makes the handle unusable: every later call rejects 'ERR_STORAGE' with that error as `cause`).
   * Each returns a promise (`node:fs`'s callback functions themselves are refused).
   * @default `fsync` and `fdatasync` of `node:fs`, as promises
   */
  readonly sync?: FileSync | undefined;
  /**
   * Whether `open` may create a queue (and `dir`) that does not exist. With `false`, for tools that inspect queues,
   * opening one that does not exist rejects with 'ERR_NOT_FOUND' and creates nothing: no directory, no file.
   * @default true
   */
  readonly create?: boolean | undefined;
  /**
   * The permissions of the files this store creates; directories it creates get the matching search bits (0o600 →
   * 0o700, 0o660 → 0o770). Private by default: queued items often hold personal data or credentials, and no other
   * local user should read them. Widen it to share queues with a group on purpose; the umask does not narrow it.
   * Read and write for the owner are required; execute, setuid, setgid and sticky bits are refused.
   *
   * Opening a store or queue directory that another user could plant files or links in is refused with
   * 'ERR_INVALID_OPTION' naming the directory: one owned by another user (root excepted; with a group `mode`, a
   * member of the directory's group is accepted), or writable by group or others beyond what `mode` shares, unless it
   * has the sticky bit (as /tmp). Files are opened without following symbolic links.
   * @default 0o600
   * @example new FileStore({ dir: '/srv/queues', mode: 0o660 }) // processes of one group share the queues
   */
  readonly mode?: number | undefined;
}

/**
 * Keeps each queue in a directory of segment files plus a metadata file replaced atomically. Safe against a killed
 * process ('relaxed') or a power cut ('strict'), and shared safely by several processes: every commit holds the
 * directory's lock file and checks that no process committed since the caller's view.
 *
 * @example
 * const queue = await Queue.open({ name: 'emails', store: new FileStore({ dir: '/var/lib/app/queues' }) });
 */
export class FileStore implements Store {
  /** The absolute path of the store's directory. */
  readonly dir: string;
  /** Stores on the same directory share its queues. */
  readonly scope: string;
  readonly #lockTimeoutMs: number;
  readonly #staleMs: number;
  readonly #sync: FileSync;
  readonly #mode: number;
  readonly #create: boolean;

  constructor(options: FileStoreOptions = {}) {
    // A misspelt `dir` would put the queues in ./.sluice, silently.
    checkedOptions(options, 'options', ['dir', 'lockTimeoutMs', 'staleMs', 'sync', 'create', 'mode']);
    const { dir = '.sluice', lockTimeoutMs = 10_000, staleMs = 10_000, sync = nodeSync, mode = 0o600, create = true } = options;
    // A lone surrogate is written as U+FFFD, so the directory made is not the one named; NUL ends a path in the kernel.
    if (typeof dir !== 'string' || dir === '' || dir.includes('\0') || LONE_SURROGATE.test(dir)) invalid('dir', 'a non-empty path of whole characters, without NUL', dir);
    check({ lockTimeoutMs, staleMs, create }, { lockTimeoutMs: integer(0, 2 ** 31), staleMs: integer(0, 2 ** 31), create: isBoolean });
    // `node:fs`'s own take a callback: every open would fail on the first fsync, saying nothing of this option.
    if (typeof sync?.fsync !== 'function' || typeof sync.fdatasync !== 'function' || [fsyncCallback, fdatasyncCallback].some((f) => f === (sync.fsync as unknown) || f === (sync.fdatasync as unknown))) {
      invalid('sync', 'an object with fsync and fdatasync functions that return promises', sync);
    }
    checkMode(mode);
    this.dir = resolve(dir);
    this.scope = `fs:${this.dir}`;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#staleMs = staleMs;
    this.#sync = sync;
    this.#mode = mode;
    this.#create = create;
  }

  async exists(name: string): Promise<boolean> {
    checkName(name);
    return holdsQueue(this.dir, name);
  }

  async open(name: string): Promise<QueueStorage> {
    // Checked again here, before the name becomes part of a path, whoever calls.
    checkName(name);
    const dir = join(this.dir, name);
    if (!this.#create) mustExist(this.dir, name);
    let storage: FileQueueStorage;
    // Before anything is made in it: another user must not be able to plant files or links there. (A directory this
    // call makes is this user's.)
    if (existsSync(this.dir)) checkDirectory(this.dir, this.#mode, "store's directory");
    try {
      const made = makeDirs(dir, directoryMode(this.#mode));
      if (made !== undefined) {
        for (let child = dir; ; child = dirname(child)) {
          // Exactly the mode asked for: the umask would take a group's bits away.
          if (this.#mode & 0o066) chmodSync(child, directoryMode(this.#mode));
          // A new directory's name is durable only once its parent is synced: without it, a power cut could take the
          // whole queue with it, strict pushes included. Once per new queue, so done whatever the durability.
          await syncDir(dirname(child), this.#sync);
          if (child === made || dirname(child) === child) break;
        }
      }
    } catch (error) {
      throw setupFailed(dir, error);
    }
    checkDirectory(dir, this.#mode, 'queue directory');
    try {
      storage = new FileQueueStorage(dir, new ProcessLock(dir, this.#lockTimeoutMs, this.#staleMs, this.#mode), this.#sync, this.#mode);
    } catch (error) {
      throw setupFailed(dir, error);
    }
    try {
      await storage.cleanUp();
    } catch (error) {
      await storage.close();
      throw error;
    }
    return storage;
  }
}

function setupFailed(dir: string, error: unknown): SluiceError {
  // A part of the path is a file: the option is wrong, not the disk.
  if (errno(error) === 'EEXIST') return new SluiceError('ERR_INVALID_OPTION', `Cannot set up the queue directory ${dir}: a file is there, not a directory. Choose another \`dir\` (or queue name, where that is the file).`, { cause: error });
  if (errno(error) === 'ENOTDIR') return new SluiceError('ERR_INVALID_OPTION', `Cannot set up the queue directory ${dir}: a part of its path is a file, not a directory. Choose another \`dir\` (or queue name, where that is the file).`, { cause: error });
  return fileError(error, dir, `Cannot set up the queue directory ${dir}.`);
}

/** Throws 'ERR_NOT_FOUND' unless `dir` holds the queue `name` (see `holdsQueue`). */
function mustExist(dir: string, name: string): void {
  if (holdsQueue(dir, name)) return;
  const where = existsSync(dir) ? `There is no queue "${name}" in ${dir}` : `The directory ${dir} does not exist, so there is no queue "${name}" in it`;
  throw new SluiceError('ERR_NOT_FOUND', `${where}. This FileStore opens existing queues only (create: false, as the command line opens them).`);
}

