import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { QueueStorage } from '../../../src/core/store.js';
import { SluiceError } from '../../../src/index.js';
import { FileStore, type FileStoreOptions } from '../../../src/fs.js';
import { deferred } from '../../conformance/harness.js';

/**
 * A fresh directory for each test holding the queue directory 'q', and FileStore handles on it that are closed
 * after the test, so that a failed test leaves no lock or watcher behind for the next.
 */
export function tempQueueDir(prefix: string) {
  let dir = '';
  let opened: QueueStorage[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    mkdirSync(join(dir, 'q'));
    opened = [];
  });
  afterEach(async () => {
    for (const storage of opened) await storage.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    /** The directory the stores are given. */
    root: () => dir,
    /** A file in queue 'q''s directory, or the directory itself. */
    file: (name = '') => join(dir, 'q', name),
    /** A handle on queue 'q', closed after the test. */
    open: async (options: Omit<FileStoreOptions, 'dir'> = {}) => {
      const storage = await new FileStore({ dir, ...options }).open('q');
      opened.push(storage);
      return storage;
    },
  };
}

/**
 * Removes a live queue's directory, as `rm -rf`. Its spare segment file is made off the event loop, so one may appear
 * between rmSync's listing and its rmdir, which then fails ENOTEMPTY however often rmdir alone is tried: list again.
 */
export async function removeLive(path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return rmSync(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/** The code a promise rejects with, 'resolved', or what it rejected with that is not a SluiceError. */
export const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof SluiceError ? error.code : `not a SluiceError: ${String(error)}`),
  );

/**
 * A `sync` whose fdatasync (a strict commit's) holds up until `release`: `entered` resolves when a commit reaches it,
 * so a test can act while that commit holds the queue's lock.
 */
export function heldSync() {
  const entered = deferred();
  const held = deferred();
  return {
    entered: entered.promise,
    release: () => held.resolve(),
    sync: {
      fsync: async () => undefined,
      fdatasync: async () => {
        entered.resolve();
        await held.promise;
      },
    },
  };
}
