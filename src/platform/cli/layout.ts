import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { checkName } from '../../core/options.js';
import { deadLettersOf, outboxOf } from '../../core/outbox-names.js';
import { partOf } from '../../core/partitioned.js';
import { errno, segmentId } from '../../stores/fs/files.js';
import { holdsQueue } from '../../stores/fs/queue-marks.js';

// What the CLI reads of a FileStore directory beyond the Queue API: which queues there are, which are outboxes,
// and the times of a queue's head segment file. The names are FileStore's (see src/stores/fs).

/** What a queue is, by the FileStore's naming: an outbox `x` keeps its dead letters in the queue `x.dead`. */
export type QueueKind = 'queue' | 'outbox' | 'dead-letters';

/** Whether `dir` holds the queue `name`, as the FileStore judges it (see `holdsQueue`). */
export function isQueue(dir: string, name: string): boolean {
  return holdsQueue(resolve(dir), name);
}

export function kindOf(dir: string, name: string): QueueKind {
  if (seen(dir, deadLettersOf(name))) return 'outbox';
  const outbox = outboxOf(name);
  if (outbox !== undefined && seen(dir, outbox)) return 'dead-letters';
  return 'queue';
}

/**
 * Whether `name` may be a queue of `dir` as a listing sees it: a name a queue can have, whose directory holds one, or
 * cannot be read (its queue's open then says why, on its row); not a directory of another kind (`lost+found`).
 */
function seen(dir: string, name: string): boolean {
  try {
    checkName(name);
    return isQueue(dir, name);
  } catch (error) {
    return error instanceof SluiceError && error.code === 'ERR_STORAGE';
  }
}

/** The queues in `dir`, sorted; 'ERR_NOT_FOUND' when `dir` does not exist. */
export function queueNames(dir: string): string[] {
  const root = resolve(dir);
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (error) {
    if (errno(error) === 'ENOENT') throw new SluiceError('ERR_NOT_FOUND', `The directory ${root} does not exist (--dir names a FileStore directory).`);
    // As `stats` says of it: no queue is there.
    if (errno(error) === 'ENOTDIR') throw new SluiceError('ERR_NOT_FOUND', `${root} is not a directory (--dir names a FileStore directory).`);
    throw new SluiceError('ERR_STORAGE', `Cannot read the directory ${root} (${errno(error) || 'error'}).`, { cause: error });
  }
  // A partitioned queue's other partitions and the list of its handles are parts of it, not queues of their own.
  const names = entries.filter((e) => e.isDirectory() && seen(root, e.name)).map((e) => e.name);
  return names.filter((name) => !names.includes(partOf(name) ?? '')).sort();
}

/**
 * Birth and last-change times (epoch ms) of the queue's first segment file, which holds its oldest item: that item
 * was pushed between the two. `born` is undefined where the file system keeps no birth time, or a copy's.
 */
export function headSegmentTimes(dir: string, name: string): { born: number | undefined; changed: number } | undefined {
  const queueDir = join(resolve(dir), name);
  let head: string | undefined;
  let headId = Infinity;
  for (const file of readdirSync(queueDir)) {
    const id = segmentId(file);
    if (id !== undefined && id < headId) [head, headId] = [file, id];
  }
  if (head === undefined) return undefined;
  const stat = statSync(join(queueDir, head));
  // A file born after it last changed was copied with its times kept (`cp -a`, `rsync -a`, `tar x`): its birth is the
  // copy's, not the push's, and bounds nothing.
  const born = stat.birthtimeMs > 0 && stat.birthtimeMs <= stat.mtimeMs ? stat.birthtimeMs : undefined;
  return { born, changed: stat.mtimeMs };
}
