import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Queue } from '../src/index.node.js';
import { Queue as CoreQueue } from '../src/index.js';

it('in Node, Queue.open without a store keeps the queue in .sluice under the working directory', async () => {
  const cwd = process.cwd();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-default-'));
  process.chdir(dir);
  try {
    const q = await Queue.open<number>({ name: 'defaults' });
    await q.push(1);
    await q.close();
    expect(existsSync(join(dir, '.sluice', 'defaults'))).toBe(true);
    const again = await Queue.open<number>({ name: 'defaults' });
    expect(await again.peek()).toEqual([1]);
    expect(again).toBeInstanceOf(CoreQueue);
    await again.close();
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the core entry has no default store: a missing store is ERR_INVALID_OPTION', async () => {
  await expect(CoreQueue.open({ name: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
});

it("the entries' Queue and Outbox are named as such (a console or a stack trace shows them), not as the wrapper that gives them a default store", async () => {
  const { Outbox } = await import('../src/index.node.js');
  expect([Queue.name, Outbox.name]).toEqual(['Queue', 'Outbox']);
});
