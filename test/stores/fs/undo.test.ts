import { fdatasync, fstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FileStore } from '../../../src/fs.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/**
 * Queue 'q' of six segments (100 bytes each, the last of 4), and a strict commit of 50 bytes more to the last whose
 * fdatasync is `sync`; `wait()` in it holds that commit's sync (once `reached`) until `release`, and says whether it did.
 */
async function heldStrictCommit(prefix: string, sync: (fd: number, wait: () => Promise<boolean>) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  let held: Promise<void> | undefined;
  let entered!: () => void;
  const reached = new Promise<void>((resolve) => (entered = resolve));
  const wait = async () => {
    if (!held) return false;
    entered();
    await held;
    return true;
  };
  const store = new FileStore({ dir, sync: { fsync: async () => undefined, fdatasync: (fd) => sync(fd, wait) } });
  const storage = await store.open('q');
  let token = (await storage.load()).token;
  for (let segment = 0; segment < 6; segment++) {
    token = (await storage.commit(token, { write: { segment, offset: 0, bytes: bytes(segment === 5 ? 4 : 100, 65 + segment) }, durability: 'relaxed' }))!;
  }
  let release!: () => void;
  held = new Promise<void>((resolve) => (release = resolve));
  const commit = storage.commit(token, { write: { segment: 5, offset: 4, bytes: bytes(50, 90) }, durability: 'strict' });
  return { dir, storage, commit, reached, release: () => ((held = undefined), release()) };
}

// A strict commit's fdatasync is awaited: reads meanwhile open other segments, and only a few descriptors are kept.
// The commit then fails, and its undo must cut the file it wrote, not another.
it('a failed strict commit cuts back the segment it wrote, even when its descriptor number now names another file', async () => {
  const { dir, storage, commit: failing, reached, release } = await heldStrictCommit('sluice-undo-', async (_, wait) => {
    if (await wait()) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  });
  await reached;
  // Reads of every other segment, twice over: the tail's descriptor is closed, and its number given to another.
  for (let round = 0; round < 2; round++) for (let segment = 0; segment < 5; segment++) await storage.read(segment, 0, 100);
  release();
  await expect(failing).rejects.toThrow();
  const size = (segment: number) => readFileSync(join(dir, 'q', `${String(segment).padStart(16, '0')}.seg`)).length;
  expect([0, 1, 2, 3, 4, 5].map(size)).toEqual([100, 100, 100, 100, 100, 4]);
  await storage.close();
});

const identity = (fd: number) => {
  try {
    const { dev, ino } = fstatSync(fd);
    return `${dev}:${ino}`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
};

// A strict commit's fdatasync is awaited: reads meanwhile open other segments, and only a few descriptors are kept. The
// one the commit syncs must stay open, on its file, until the sync is done: closed, the sync fails (EBADF) and makes the
// handle unusable; closed and its number given to another segment, the sync presses that file and the commit is said
// durable when it is not.
it('a strict commit syncs the file it wrote, however many segments are read while the sync runs', async () => {
  const synced: { asked: string | undefined; done: string | undefined }[] = [];
  const { storage, commit: committing, reached, release } = await heldStrictCommit('sluice-pinned-', async (fd, wait) => {
    const asked = identity(fd);
    await wait();
    synced.push({ asked, done: identity(fd) });
    await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  });
  await reached;
  // Reads of every other segment, twice over: were the tail's descriptor closed, its number would go to another.
  for (let round = 0; round < 2; round++) for (let segment = 0; segment < 5; segment++) expect(await storage.read(segment, 0, 100)).toEqual(bytes(100, 65 + segment));
  release();
  const token = (await committing)!;
  expect(token).toEqual(expect.any(String));
  expect(synced).toHaveLength(1);
  expect(synced[0]!.done).toBe(synced[0]!.asked);
  // The handle goes on: its descriptors were neither lost nor leaked.
  expect(await storage.read(5, 0, 54)).toEqual(Uint8Array.from([...bytes(4, 70), ...bytes(50, 90)]));
  expect(await storage.commit(token, { write: { segment: 5, offset: 54, bytes: bytes(3, 1) }, durability: 'strict' })).toEqual(expect.any(String));
  await storage.close();
});
