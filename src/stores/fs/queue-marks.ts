import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { storageError } from '../../core/storage-errors.js';
import { errno, segmentId } from './files.js';

/**
 * Whether `dir` holds the queue `name`: its directory has its `commits` counter from the first open on, its metadata
 * from the first commit, and its items in segment files; any may be removed under it (a restore cut short, a
 * cleaner), and what is left is still a queue to open, whose repair says what was lost. A directory of that name with
 * none of them is no queue sluice made, and is not opened as one. A directory that cannot be read (EACCES: another
 * user's) is 'ERR_STORAGE' saying so, not "no queue".
 */
export function holdsQueue(dir: string, name: string): boolean {
  const queueDir = join(dir, name);
  try {
    if (statSync(join(queueDir, 'commits'), { throwIfNoEntry: false }) || statSync(join(queueDir, 'meta'), { throwIfNoEntry: false })) return true;
    return readdirSync(queueDir).some((file) => segmentId(file) !== undefined);
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return false;
    throw storageError(error, `Cannot read the queue directory ${queueDir}:`);
  }
}
