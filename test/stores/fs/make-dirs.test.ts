import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { makeDirs } from '../../../src/stores/fs/make-dirs.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sluice-dirs-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

it('makes the directory and its missing parents, and names the first it made (as mkdir -p)', () => {
  expect(makeDirs(join(root, 'a', 'b', 'c'), 0o700)).toBe(join(root, 'a'));
  expect(statSync(join(root, 'a', 'b', 'c')).isDirectory()).toBe(true);
  expect(makeDirs(join(root, 'a', 'b', 'd'), 0o700)).toBe(join(root, 'a', 'b', 'd'));
  expect(makeDirs(join(root, 'a', 'b'), 0o700)).toBeUndefined();
});

it('a file or a link to nowhere in the path fails with its errno', () => {
  writeFileSync(join(root, 'file'), 'x');
  expect(() => makeDirs(join(root, 'file'), 0o700)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  expect(() => makeDirs(join(root, 'file', 'sub'), 0o700)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  symlinkSync(join(root, 'nowhere'), join(root, 'link'));
  expect(() => makeDirs(join(root, 'link', 'sub'), 0o700)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
});

// Node 20's mkdirSync(dir, { recursive: true }) loops for ever there (mkdir says ENOENT though /proc is there): the
// open never settled, and no timer of the process ran again.
it.runIf(existsSync('/proc/self'))('a FileStore under /proc, where nothing can be made, fails the open with ERR_STORAGE instead of hanging', async () => {
  const error = await Queue.open({ name: 'q', store: new FileStore({ dir: '/proc/sluice-no-such-dir' }) }).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('/proc/sluice-no-such-dir') });
});
