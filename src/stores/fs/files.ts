import { closeSync, fdatasync, fsync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

// Segment files are named by id, zero-padded so that a directory listing sorts like the queue.
const SEGMENT = /^(\d{16})\.seg$/;

export function segmentName(id: number): string {
  return `${String(id).padStart(16, '0')}.seg`;
}

export function segmentFile(dir: string, id: number): string {
  return join(dir, segmentName(id));
}

/** The id of a segment file name, or undefined for any other file. */
export function segmentId(name: string): number | undefined {
  const match = SEGMENT.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** How a FileStore presses files to the medium. Replaceable, so that tests can meet a failing disk. */
export interface FileSync {
  /** Flushes the data and metadata of `fd` (a metadata file, a directory). */
  fsync(fd: number): Promise<void>;
  /** Flushes the data of `fd` and the size needed to read it back (a segment after an append). */
  fdatasync(fd: number): Promise<void>;
}

export const nodeSync: FileSync = {
  fsync: (fd) => new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve()))),
  fdatasync: (fd) => new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve()))),
};

/**
 * Makes the creation, renaming or removal of files in `dir` durable. Platforms that cannot open or sync a
 * directory (Windows) make those durable by other means, so their refusal is not an error. Only the fsync itself runs
 * in `synced` (see `FileQueueStorage`, for which a failed one is fatal): a directory that cannot be opened (no
 * descriptor free, EMFILE) was not synced, and its error is a file error like any other.
 */
export async function syncDir(dir: string, sync: FileSync, synced = (run: () => Promise<void>) => run()): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (error) {
    if (['EISDIR', 'EPERM', 'EACCES'].includes(errno(error))) return;
    throw error;
  }
  try {
    await synced(async () => {
      try {
        await sync.fsync(fd);
      } catch (error) {
        if (!['EINVAL', 'EBADF', 'EISDIR', 'EPERM'].includes(errno(error))) throw error;
      }
    });
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `bytes` at `position` (a positional write may write less than asked). */
export function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Reads `[start, end)` of `fd`; fewer bytes when the file is shorter. */
export function readRange(fd: number, start: number, end: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, end - start));
  let got = 0;
  while (got < out.length) {
    const n = readSync(fd, out, got, out.length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return got === out.length ? out : out.subarray(0, got);
}

export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errno(error) !== 'ENOENT') throw error;
  }
}

/** Closes `fd`, for clean-up paths where a failure to close changes nothing. */
export function closeQuiet(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed or never valid: nothing is left to release.
  }
}

export function errno(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? '';
}
