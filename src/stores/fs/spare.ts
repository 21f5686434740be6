import { constants, open } from 'node:fs';
import { join } from 'node:path';
import { closeQuiet, unlinkQuiet } from './files.js';
import { fitMode } from './permissions.js';
import { fileId } from './process-id.js';

// A new segment is needed every `segmentItems` items: one made ahead is plenty.
const KEEP = 1;

/** An empty file, open for reading and writing, to be renamed into place. */
export interface Spare {
  readonly path: string;
  readonly fd: number;
}

/**
 * Empty files made ahead of time, off the event loop, to become new segments by a rename. Creating a file costs
 * far more than renaming one (here 0.5–1.5 ms against 20 µs: inode allocation and journaling), so a commit that
 * starts a segment would spend most of its time creating the file; with a spare, the next segment's file is made
 * while the current one fills. Named `spare.<pid>_<start>.<ns><random>.tmp`, so a dead process's spares are cleared on open,
 * and a live one's never are.
 */
export class Spares {
  readonly #dir: string;
  readonly #tag: string;
  readonly #mode: number;
  readonly #ready: Spare[] = [];
  readonly #making = new Set<Promise<void>>();
  #disposed = false;

  /** `tag` names this process in the files' names (see `fileTag`); files are made with `mode`. */
  constructor(dir: string, tag: string, mode: number) {
    this.#dir = dir;
    this.#tag = tag;
    this.#mode = mode;
  }

  /** Starts making spare files, so that one is ready by the time the first is needed. */
  prepare(): void {
    this.#fill();
  }

  /** A spare file, or undefined when none is ready (the caller creates its file itself). Starts making more. */
  take(): Spare | undefined {
    const spare = this.#ready.shift();
    this.#fill();
    return spare;
  }

  /**
   * Removes the spare files, once those being made are done. Best effort: in a directory that refuses changes
   * (read-only, say) they stay, and are cleared as leftovers once this process is gone.
   */
  async dispose(): Promise<void> {
    this.#disposed = true;
    await Promise.all(this.#making);
    for (const { path, fd } of this.#ready.splice(0)) {
      closeQuiet(fd);
      try {
        unlinkQuiet(path);
      } catch {
        // Left for the clearing of leftovers.
      }
    }
  }

  #fill(): void {
    while (!this.#disposed && this.#ready.length + this.#making.size < KEEP) {
      const path = join(this.#dir, `spare.${fileId(this.#tag)}.tmp`);
      const making: Promise<void> = new Promise((resolve) => {
        open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, this.#mode, (error, fd) => {
          this.#making.delete(making);
          // No spare this time (the directory is gone, say): the next file is created in its commit instead.
          if (!error) {
            try {
              fitMode(fd, this.#mode);
              this.#ready.push({ path, fd });
            } catch {
              closeQuiet(fd);
              unlinkQuiet(path);
            }
          }
          resolve();
        });
      });
      this.#making.add(making);
    }
  }
}
