// A handle's lock content file on a full disk: the file is made, its content refused.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileStore } from '../../../src/fs.js';

const disk = vi.hoisted(() => ({ full: false }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    // Only the lock content (a process id as JSON) meets the full disk: enough to open no further.
    if (disk.full && typeof data === 'string' && data.includes('"pid"')) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (fs.writeSync as (...args: unknown[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync;
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-lock-files-'));
  mkdirSync(join(dir, 'q'));
});
afterEach(() => {
  disk.full = false;
  rmSync(dir, { recursive: true, force: true });
});

describe('a lock content file the disk has no room for', () => {
  it('open rejects ERR_QUOTA_EXCEEDED and leaves no empty file behind, however often it is tried', async () => {
    disk.full = true;
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(new FileStore({ dir }).open('q')).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    }
    expect(readdirSync(join(dir, 'q')).filter((name) => name.endsWith('.own'))).toEqual([]);
    disk.full = false;
    const storage = await new FileStore({ dir }).open('q');
    await storage.close();
  });
});
