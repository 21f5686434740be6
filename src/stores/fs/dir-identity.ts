import { statSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { errno } from './files.js';

/**
 * The queue directory a handle opened, by identity (device, inode), so that one deleted under the handle, or deleted
 * and made again by another handle, is told apart from files removed inside it. Nothing is made again behind the
 * handle's back, as with an IndexedDB database deleted under an open queue: from then on every call says the queue is
 * gone ('ERR_NOT_FOUND'), rather than go on in another directory (pushes that no reader of the first would see) or
 * report as lost, by id ranges, items whose ids the new queue gave to others.
 */
export class DirIdentity {
  readonly #dir: string;
  readonly #identity: string;
  #gone: SluiceError | undefined;
  #doubted = false;

  /** Takes the identity of `dir` (ENOENT when it is not there, as at an open that raced its deletion). */
  constructor(dir: string) {
    this.#dir = dir;
    const { dev, ino } = statSync(dir);
    this.#identity = `${dev}:${ino}`;
  }

  /**
   * 'ERR_NOT_FOUND' once the directory at the path is not the one opened (then always); undefined while it is. One
   * `stat`: not for hot paths. A `stat` that fails otherwise (EACCES) throws.
   */
  gone(): SluiceError | undefined {
    if (this.#gone) return this.#gone;
    const now = identityOf(this.#dir);
    if (now === this.#identity) return undefined;
    return (this.#gone = new SluiceError(
      'ERR_NOT_FOUND',
      `The queue directory ${this.#dir} was deleted while this queue was open${now === undefined ? '' : ', and made again since'}: what it held is gone. Open the queue again to start anew.`,
    ));
  }

  /** A change notice came (see `doubted`). */
  doubt(): void {
    this.#doubted = true;
  }

  /** As `gone`, once after each `doubt`; undefined at no cost otherwise. */
  doubted(): SluiceError | undefined {
    if (!this.#doubted) return undefined;
    this.#doubted = false;
    return this.gone();
  }

  /** 'ERR_NOT_FOUND' when the file system error `error` came of the directory being gone; undefined otherwise. */
  explain(error: unknown): SluiceError | undefined {
    const code = errno(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined;
    try {
      return this.gone();
    } catch {
      // Cannot tell: the first error stands.
      return undefined;
    }
  }
}

/** The directory's identity; undefined when there is none at the path. Other errors (EACCES) are thrown. */
function identityOf(dir: string): string | undefined {
  try {
    const stat = statSync(dir, { throwIfNoEntry: false });
    return stat?.isDirectory() ? `${stat.dev}:${stat.ino}` : undefined;
  } catch (error) {
    if (errno(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}
