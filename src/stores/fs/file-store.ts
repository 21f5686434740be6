import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { checkName } from '../../core/options.js';
import { check, integer, invalid } from '../../core/validate.js';
import type { QueueStorage, Store } from '../../core/store.js';
import { errno, type FileSync, nodeSync, syncDir } from './files.js';
import { ProcessLock } from './lock.js';
import { FileQueueStorage } from './queue-storage.js';

export type { FileSync } from './files.js';

/** Options of `new FileStore()`. */
export interface FileStoreOptions {
  /**
   * The directory holding one sub-directory per queue; created when absent. A relative path is resolved against
   * the working directory when the store is made.
   * @default '.sluice'
   */
  readonly dir?: string;
  /**
   * How long a commit waits while another live process holds the queue's lock (each holds it for one commit, a
   * few microseconds to one fsync) before failing with 'ERR_LOCKED' naming that process. A lock left by a process
   * that died is taken over at once, whatever this says.
   * @default 10_000
   */
  readonly lockTimeoutMs?: number;
  /**
   * A lock file (or takeover marker) whose content cannot be read, which only a power cut leaves behind (lock files
   * appear whole), counts as abandoned once it is this old. Locks of dead processes on this host do not wait for it.
   * @default 10_000
   */
  readonly staleMs?: number;
  /**
   * How files are pressed to the medium. Replace it to see how the store meets a failing disk (an fsync error
   * makes the handle unusable: every later call rejects 'ERR_STORAGE' with that error as `cause`).
   * @default `fsync` and `fdatasync` of `node:fs`
   */
  readonly sync?: FileSync;
  /**
   * Whether `open` may create a queue (and `dir`) that does not exist. With `false`, for tools that inspect queues,
   * opening one that does not exist rejects with 'ERR_NOT_FOUND' and creates nothing: no directory, no file.
   * @default true
   */
  readonly create?: boolean;
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
  readonly #lockTimeoutMs: number;
  readonly #staleMs: number;
  readonly #sync: FileSync;
  readonly #create: boolean;

  constructor(options: FileStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
    const { dir = '.sluice', lockTimeoutMs = 10_000, staleMs = 10_000, sync = nodeSync, create = true } = options;
    if (typeof dir !== 'string' || dir === '') invalid('dir', 'a non-empty path', dir);
    if (typeof create !== 'boolean') invalid('create', 'a boolean', create);
    check({ lockTimeoutMs, staleMs }, { lockTimeoutMs: integer(0, 2 ** 31), staleMs: integer(0, 2 ** 31) });
    if (typeof sync?.fsync !== 'function' || typeof sync.fdatasync !== 'function') {
      invalid('sync', 'an object with fsync and fdatasync functions', sync);
    }
    this.dir = resolve(dir);
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#staleMs = staleMs;
    this.#sync = sync;
    this.#create = create;
  }

  async open(name: string): Promise<QueueStorage> {
    // Checked again here, before the name becomes part of a path, whoever calls.
    checkName(name);
    const dir = join(this.dir, name);
    if (!this.#create) mustExist(this.dir, name);
    let storage: FileQueueStorage;
    try {
      const made = mkdirSync(dir, { recursive: true });
      // A new directory's name is durable only once its parent is synced: without it, a power cut could take the
      // whole queue with it, strict pushes included. Once per new queue, so done whatever the durability.
      if (made !== undefined) {
        for (let child = dir; ; child = dirname(child)) {
          await syncDir(dirname(child), this.#sync);
          if (child === made) break;
        }
      }
      storage = new FileQueueStorage(dir, new ProcessLock(dir, this.#lockTimeoutMs, this.#staleMs), this.#sync);
    } catch (error) {
      const quota = errno(error) === 'ENOSPC' || errno(error) === 'EDQUOT';
      throw new SluiceError(quota ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE', `Cannot set up the queue directory ${dir} (${errno(error) || 'error'}).`, { cause: error });
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

/**
 * Throws 'ERR_NOT_FOUND' unless `dir` holds the queue `name`. Every queue's directory has its `commits` counter from
 * the first open on, so a directory without one (or none at all) is no queue.
 */
function mustExist(dir: string, name: string): void {
  if (existsSync(join(dir, name, 'commits'))) return;
  const where = existsSync(dir) ? `There is no queue "${name}" in ${dir}` : `The directory ${dir} does not exist, so there is no queue "${name}" in it`;
  throw new SluiceError('ERR_NOT_FOUND', `${where}. This FileStore opens existing queues only (create: false).`);
}
