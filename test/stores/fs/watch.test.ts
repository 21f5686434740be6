import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/stores/fs/file-store.js';

// No change notices from the file system (a network mount, or notices not read in time): the counter's poll alone.
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const { EventEmitter } = await import('node:events');
  const quiet = () => Object.assign(new EventEmitter(), { close: () => undefined });
  return { ...fs, watch: quiet };
});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("a watcher of a FileStore queue's commits", () => {
  it("tells another handle's commit that its own next commit came right after, before the watcher looked", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-watch-'));
    dirs.push(dir);
    const [u, d] = [await Queue.open({ name: 'q', store: new FileStore({ dir }) }), await Queue.open({ name: 'q', store: new FileStore({ dir }) })];
    let changes = 0;
    d.addEventListener('change', () => changes++);
    await d.push('warm');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    changes = 0;
    // The other handle's push, then this one's, within one poll of the counter.
    await u.push('from u');
    await d.push('from d');
    for (let i = 0; i < 30 && changes === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(changes).toBeGreaterThan(0);
    await u.close();
    await d.close();
  });

  it('wakes a consumer waiting on a handle an fsync failure made unusable: it meets the error, rather than wait for ever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-watch-'));
    dirs.push(dir);
    let fail = false;
    const eio = () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    const sync = { fsync: async () => (fail ? eio() : undefined), fdatasync: async () => (fail ? eio() : undefined) };
    const q = await Queue.open<string>({ name: 'q', store: new FileStore({ dir, sync }), durability: 'strict' });
    const got: string[] = [];
    const loop = (async () => {
      for await (const lease of q) {
        got.push(...lease.entries.map((e) => e.value));
        await lease.ack();
      }
    })().then(
      () => 'ended',
      (error: unknown) => error,
    );
    await q.push('a');
    for (let i = 0; i < 30 && got.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    fail = true;
    await expect(q.push('b')).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    const outcome = await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 3000, 'still waiting'))]);
    expect(outcome).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('fsync failed') });
    expect(got).toEqual(['a']);
    await q.close().catch(() => undefined);
  });
});
