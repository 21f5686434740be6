import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';

// The directory refuses the lock file's removal (made read-only by another user between the commit and the release).
const refusal = vi.hoisted(() => ({ on: false }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const unlinkSync: typeof fs.unlinkSync = (path) => {
    if (refusal.on && String(path).endsWith('lock')) throw Object.assign(new Error(`EACCES: permission denied, unlink '${String(path)}'`), { code: 'EACCES' });
    fs.unlinkSync(path);
  };
  return { ...fs, default: { ...fs, unlinkSync }, unlinkSync };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-release-'));
});
afterEach(() => {
  refusal.on = false;
  rmSync(dir, { recursive: true, force: true });
});

it('an ack committed, then the lock file\'s removal refused: the ack resolves (it said ERR_STORAGE, and the items never came back)', async () => {
  const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
  await q.pushMany([1, 2, 3]);
  const lease = (await q.take(3))!;
  refusal.on = true;
  await lease.ack();
  refusal.on = false;
  // The lock, still this handle's, goes at its next commit: another handle gets in then, and finds the ack made.
  await q.push(4);
  const other = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
  expect(await other.peek(10)).toEqual([4]);
  await Promise.all([q.close(), other.close()]);
});

it('…and the handle then idles, making no call: the lock is given up by itself soon after, others get in', async () => {
  const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
  await q.pushMany([1, 2, 3]);
  const lease = (await q.take(3))!;
  refusal.on = true;
  await lease.ack();
  // Refused a few times more, then the directory takes it again.
  await new Promise((resolve) => setTimeout(resolve, 250));
  refusal.on = false;
  const other = await Queue.open<number>({ name: 'q', store: new FileStore({ dir, lockTimeoutMs: 3000 }) });
  await other.push(4);
  expect(await other.peek(10)).toEqual([4]);
  await Promise.all([q.close(), other.close()]);
});
