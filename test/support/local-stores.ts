import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { FileStore } from '../../src/stores/fs/file-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

/**
 * Makes fresh directories named from `prefix`, each removed after the test that made it. Called at a suite file's top
 * level (it registers that `afterEach`).
 */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => dirs[dirs.push(mkdtempSync(join(tmpdir(), prefix))) - 1]!;
}

/** The stores a core suite runs on in Node, by name: a MemoryStore, and a FileStore in a fresh directory (see `tempDirs`). */
export function localStores(prefix: string, dir = tempDirs(prefix)): [string, () => Store][] {
  return [
    ['MemoryStore', () => new MemoryStore()],
    ['FileStore', () => new FileStore({ dir: dir() })],
  ];
}
