import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { FileStore } from '../../src/fs.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import type { Store } from '../../src/core/store.js';

// MemoryStore and FileStore ('relaxed', synchronous file calls) settle every call in microtasks: before, a loop of
// awaited calls never ended its task, and no timer, I/O callback or signal handler (a SIGTERM that closes the queue)
// ran until the loop stopped.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => Store][] = [
  ['MemoryStore', () => new MemoryStore()],
  ['FileStore', () => new FileStore({ dir: dirs[dirs.push(mkdtempSync(join(tmpdir(), 'sluice-serial-'))) - 1]! })],
];

/** Runs `step` until a timer set before the loop fires, or for at most `limitMs`; says whether it fired. */
async function timerFiresDuring(step: () => Promise<unknown>, limitMs = 3000): Promise<boolean> {
  let fired = false;
  const timer = setTimeout(() => (fired = true), 1);
  const started = performance.now();
  while (!fired && performance.now() - started < limitMs) await step();
  clearTimeout(timer);
  return fired;
}

describe.each(stores)('a loop of awaited calls on %s lets the event loop turn', (_, store) => {
  it('pushes', async () => {
    const q = await Queue.open<number>({ name: 'q', store: store() });
    expect(await timerFiresDuring(() => q.push(1))).toBe(true);
    await q.close();
  });

  it('takes and acks', async () => {
    const q = await Queue.open<number>({ name: 'q', store: store() });
    await q.pushMany(Array.from({ length: 200_000 }, (_, i) => i));
    expect(await timerFiresDuring(async () => (await q.take(1))?.ack())).toBe(true);
    await q.close();
  });

  it('iterates a backlog', async () => {
    const q = await Queue.open<number>({ name: 'q', store: store() });
    await q.pushMany(Array.from({ length: 200_000 }, (_, i) => i));
    const leases = q.iterate({ max: 1 });
    expect(await timerFiresDuring(async () => (await leases.next()).value?.ack())).toBe(true);
    await leases.return(undefined);
    await q.close();
  });
});
