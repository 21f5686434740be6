import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type FileState, stateOf } from './descriptors.js';
import { segmentId } from './files.js';

/** A segment file as listed: its id, name and state. */
export interface Listed {
  readonly id: number;
  readonly name: string;
  readonly state: FileState;
}

/**
 * The segment files of a queue directory, as one handle last listed them. Listing them all costs a `readdir` and a
 * `stat` per segment (a millisecond for a thousand), under the lock, at every reload: too much when processes
 * sharing a queue reload after each other's commits. But commits seldom make or remove a segment (once per
 * `segmentItems` items pushed or acked); most append to the newest. The commit counter says as of which commit the
 * set of segment files is unchanged (`CommitCounter.listed`): while that is the count this listing was made at, the
 * files listed are still all there is, and only the newest, which appends grow, is looked at again.
 *
 * When the set did change, the files are listed again, and only those this listing did not have sealed are looked at.
 * Segments changed outside any commit (cut, removed) are found when reading them comes up short (`forget`), and by
 * every full listing, which a load makes whenever the handle's view was current (see `FileQueueStorage.load`).
 */
export class Listing {
  readonly #dir: string;
  /** Segment files in ascending id order, as of commit `#as`; undefined until listed, or when not to be trusted. */
  #files: Listed[] | undefined;
  #as: string | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Every segment file, in ascending id order. `listed` is the counter's: the commit as of which the set is
   * unchanged, if known. With `full`, every file is looked at again whatever it says.
   */
  list(listed: string | undefined, full: boolean): readonly Listed[] {
    const files = this.#files;
    if (!full && files && listed !== undefined && listed === this.#as) {
      const newest = files[files.length - 1];
      const state = newest && stateOf(join(this.#dir, newest.name));
      // The newest removed under the queue: the set changed after all.
      if (!newest || state) {
        if (newest && state) files[files.length - 1] = { ...newest, state };
        return files;
      }
    }
    // Unless `full`, a sealed segment this listing had is as it was (appends go to the newest only; changes outside any
    // commit are found as said above): a busy queue makes or removes a segment every few commits, and a `stat` of
    // every segment at each of those reloads cost the processes sharing it more than all else a reload does.
    const sealed = full ? undefined : new Map(files?.slice(0, -1).map((file) => [file.name, file]));
    const out: Listed[] = [];
    for (const name of readdirSync(this.#dir)) {
      const id = segmentId(name);
      if (id === undefined) continue;
      const had = sealed?.get(name);
      const state = had ? had.state : stateOf(join(this.#dir, name));
      if (state) out.push(had ?? { id, name, state });
    }
    out.sort((a, b) => a.id - b.id);
    this.#files = out;
    this.#as = listed;
    return out;
  }

  /** The next listing looks at every file again (a read came up short: a segment was cut or removed). */
  forget(): void {
    this.#files = undefined;
  }
}
