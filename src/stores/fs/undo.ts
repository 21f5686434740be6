import { ftruncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { errno, type FileSync, syncDir, unlinkQuiet } from './files.js';

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
   * `fd`, about to be written from `offset`, is cut back to it: what lay past it was a torn tail the Queue is
   * dropping. Cutting needs no free space, so it works on the full disk that made the write fail.
   */
  cut(fd: number, offset: number): void {
    this.#steps.push({ undo: () => ftruncateSync(fd, offset), sync: () => this.#sync.fdatasync(fd) });
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
