import { SluiceError } from '../../core/errors.js';
import { errno } from '../../stores/fs/files.js';
import { forTheCommandLine } from './damage.js';

/**
 * `error` as the CLI reports it: file system errors from the CLI's own reads become SluiceErrors like the store's, and
 * an ERR_CORRUPT tells how to go on from the command line. Anything else is a bug, and is thrown on.
 */
export function failure(error: unknown, corruption: 'throw' | 'skip'): SluiceError {
  if (error instanceof SluiceError) return forTheCommandLine(error, corruption);
  if (errno(error)) return new SluiceError('ERR_STORAGE', `File storage failed (${errno(error)}): ${(error as Error).message}`, { cause: error });
  throw error;
}
