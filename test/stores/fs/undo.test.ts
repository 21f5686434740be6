import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FileStore } from '../../../src/fs.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

// A strict commit's fdatasync is awaited: reads meanwhile may close the tail's descriptor (only a few are kept) and
// open another segment under its number. The commit then fails, and its undo must cut the file it wrote, not that one.
it('a failed strict commit cuts back the segment it wrote, even when its descriptor number now names another file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-undo-'));
  dirs.push(dir);
  let hold: { entered: () => void; release: Promise<void> } | undefined;
  const store = new FileStore({
    dir,
    sync: {
      fsync: async () => undefined,
      fdatasync: async () => {
        if (!hold) return;
        hold.entered();
        await hold.release;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      },
    },
  });
  const storage = await store.open('q');
  let token = (await storage.load()).token;
  // Six segments of 100 bytes each, the last of 4.
  for (let segment = 0; segment < 6; segment++) {
    token = (await storage.commit(token, { write: { segment, offset: 0, bytes: bytes(segment === 5 ? 4 : 100, 65 + segment) }, durability: 'relaxed' }))!;
  }
  let entered!: () => void;
  const reached = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  hold = { entered, release: new Promise<void>((resolve) => (release = resolve)) };
  const failing = storage.commit(token, { write: { segment: 5, offset: 4, bytes: bytes(50, 90) }, durability: 'strict' });
  await reached;
  // Reads of every other segment, twice over: the tail's descriptor is closed, and its number given to another.
  for (let round = 0; round < 2; round++) for (let segment = 0; segment < 5; segment++) await storage.read(segment, 0, 100);
  release();
  await expect(failing).rejects.toThrow();
  hold = undefined;
  const size = (segment: number) => readFileSync(join(dir, 'q', `${String(segment).padStart(16, '0')}.seg`)).length;
  expect([0, 1, 2, 3, 4, 5].map(size)).toEqual([100, 100, 100, 100, 100, 4]);
  await storage.close();
});
