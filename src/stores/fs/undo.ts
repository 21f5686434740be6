import { closeSync, constants, ftruncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { identityOf } from './descriptors.js';
import { errno, type FileSync, syncDir, unlinkQuiet } from './files.js';
import { openExisting } from './permissions.js';

/**
 * What one commit has written so far, taken back when the commit fails before its metadata is in place. A commit that
 * rejects must leave nothing a reader could take for items: a disk that fills up part way through a write leaves
 * whole frames of the batch before the torn one, and a later write of the batch failing leaves all of the segment's.
 */
export class Undo {
  readonly #steps: { undo: () => void; sync: () => Promise<void> }[] = [];
  readonly #sync: FileSync;

  constructor(sync: FileSync) {
    this.#sync = sync;
  }

  /**
   * The file `identity` at `path`, open as `fd` and about to be written from `offset`, is cut back to it: what lay
   * past it was a torn tail the Queue is dropping. Cutting needs no free space, so it works on the full disk that
   * made the write fail. The commit keeps `fd` open until its undo is done (see `Descriptors.pin`); still the file is
   * found by its identity, never its number alone.
   */
  cut(fd: number, identity: string, path: string, offset: number): void {
    this.#steps.push({
      undo: () => withFile(fd, identity, path, (file) => ftruncateSync(file, offset)),
      sync: async () => {
        const file = ownDescriptor(fd, identity, path);
        try {
          if (file !== undefined) await this.#sync.fdatasync(file);
        } finally {
          if (file !== undefined && file !== fd) closeSync(file);
        }
      },
    });
  }

  /** The file at `path` was made by this commit: it is removed (`forget` first closes what holds it open). */
  made(path: string, forget: () => void): void {
    this.#steps.push({
      undo: () => {
        forget();
        unlinkQuiet(path);
      },
      sync: () => syncDir(dirname(path), this.#sync),
    });
  }

  /**
   * Takes every step back, newest first, and gives the error to throw: `error` itself, or, when taking back fails,
   * one that says the queue may hold part of the commit (its promises reject, yet its items could be delivered).
   * `strict` syncs what was taken back, since what the commit synced before it failed would come back after a power cut.
   */
  async run(error: unknown, strict: boolean, dir: string): Promise<unknown> {
    try {
      for (const step of this.#steps.reverse()) step.undo();
      if (strict) for (const step of this.#steps) await step.sync();
      return error;
    } catch (undoError) {
      return new SluiceError(
        'ERR_STORAGE',
        `File storage failed in ${dir} (${errno(error) || String(error)}), and what the failed commit had written could not be taken back (${errno(undoError) || String(undoError)}): the queue may hold part of that commit, whose calls were rejected. Check the queue's items before pushing them again.`,
        { cause: error },
      );
    }
  }
}

/** `fd` when it still has the file `identity` open; else that file opened again at `path`; undefined when it is gone. */
function ownDescriptor(fd: number, identity: string, path: string): number | undefined {
  if (identityQuiet(fd) === identity) return fd;
  // Removed or replaced since: the commit's bytes went with the file, and nothing is left to cut.
  const file = openExisting(path, constants.O_RDWR);
  if (file === undefined) return undefined;
  if (identityOf(file) === identity) return file;
  closeSync(file);
  return undefined;
}

/** Runs `fn` on the file `identity` (see `ownDescriptor`), closing what was opened for it. */
function withFile(fd: number, identity: string, path: string, fn: (file: number) => void): void {
  const file = ownDescriptor(fd, identity, path);
  if (file === undefined) return;
  try {
    fn(file);
  } finally {
    if (file !== fd) closeSync(file);
  }
}

/** The identity of what `fd` has open; undefined when it is closed. */
function identityQuiet(fd: number): string | undefined {
  try {
    return identityOf(fd);
  } catch (error) {
    if (errno(error) === 'EBADF') return undefined;
    throw error;
  }
}
