import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';

// As Windows answers a path through a file: ENOENT (the path is not found), where Linux says ENOTDIR.
vi.mock('node:fs', async (actual) => {
  const fs = await actual<typeof import('node:fs')>();
  const throughFile = (path: string) => {
    for (let at = dirname(path); at !== dirname(at); at = dirname(at)) {
      try {
        if (fs.statSync(at).isFile()) return true;
      } catch {
        // Not there: looked above.
      }
    }
    return false;
  };
  const windows = <F extends (path: string, ...rest: never[]) => unknown>(f: F, syscall: string) =>
    ((path: string, ...rest: never[]) => {
      if (throughFile(String(path))) throw Object.assign(new Error(`ENOENT: no such file or directory, ${syscall} '${path}'`), { code: 'ENOENT', syscall, path });
      return f(path, ...rest);
    }) as unknown as F;
  return { ...fs, default: fs, lstatSync: windows(fs.lstatSync as never, 'lstat'), statSync: windows(fs.statSync as never, 'stat'), mkdirSync: windows(fs.mkdirSync as never, 'mkdir'), existsSync: (path: string) => !throughFile(path) && fs.existsSync(path) };
});

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sluice-dirs-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

it("a file in a FileStore's path is the option's mistake (ERR_INVALID_OPTION) where the file system says ENOENT of it, as Windows does", async () => {
  writeFileSync(join(root, 'file'), 'x');
  const error = await Queue.open({ name: 'q', store: new FileStore({ dir: join(root, 'file', 'sub') }) }).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('a part of its path is a file') });
});
