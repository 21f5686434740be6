import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { Outbox } from '../../../src/outbox/outbox.js';
import { main } from '../../../src/platform/cli.js';

// What the CLI changes is on the disk before it says so, whatever durability the app chose: a `dead … retry` moves
// each letter with two commits (the task's push, the letter's ack), which a power cut must not split.

const synced = vi.hoisted(() => ({ calls: 0 }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const counted = <F extends (...args: never[]) => unknown>(fn: F) => ((...args: Parameters<F>) => (synced.calls++, fn(...args))) as F;
  return { ...fs, default: fs, fsync: counted(fs.fsync), fdatasync: counted(fs.fdatasync), fsyncSync: counted(fs.fsyncSync), fdatasyncSync: counted(fs.fdatasyncSync) };
});

let dir: string;
const io = { out: () => undefined, err: () => undefined };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-durability-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('clear, drain and dead retry sync what they change, on queues an app keeps relaxed', async () => {
  const store = new FileStore({ dir });
  const q = await Queue.open<number>({ name: 'q', store });
  await q.pushMany([1, 2, 3]);
  await q.close();
  const outbox = await Outbox.open({ name: 'api', store, fetch: async () => new Response(null, { status: 422 }) });
  await outbox.enqueue({ url: 'https://example.test/a', body: { a: 1 } });
  await outbox.flush();
  expect((await outbox.dead.list()).length).toBe(1);
  await outbox.close();

  for (const args of [['drain', 'q', '--limit', '1'], ['clear', 'q'], ['dead', 'api', 'retry']]) {
    synced.calls = 0;
    const code = await main([...args, '--dir', dir], io);
    expect({ args, code }).toEqual({ args, code: 0 });
    expect({ args, synced: synced.calls > 0 }).toEqual({ args, synced: true });
  }
});
