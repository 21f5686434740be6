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

it("the entries' Queue.open and Outbox.open work detached (`const { open } = Queue`), with the platform's default store; a subclass's open makes the subclass", async () => {
  const { Outbox } = await import('../src/index.node.js');
  const cwd = process.cwd();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-detached-'));
  process.chdir(dir);
  try {
    const { open } = Queue;
    const q = await open<number>({ name: 'detached' });
    expect(q).toBeInstanceOf(Queue);
    await q.close();
    const { open: openOutbox } = Outbox;
    const outbox = await openOutbox({ name: 'detached-outbox' });
    expect(outbox).toBeInstanceOf(Outbox);
    await outbox.close();
    expect([existsSync(join(dir, '.sluice', 'detached')), existsSync(join(dir, '.sluice', 'detached-outbox'))]).toEqual([true, true]);
    class Mine<T> extends Queue<T> {}
    const mine = await Mine.open<number>({ name: 'mine' });
    expect(mine).toBeInstanceOf(Mine);
    await mine.close();
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});

it("the core's Queue.open and Outbox.open work detached too (the `default` export condition exports them as they are)", async () => {
  const core = await import('../src/index.js');
  const store = new core.MemoryStore();
  const { open } = core.Queue;
  const q = await open<number>({ name: 'detached', store });
  expect(q).toBeInstanceOf(core.Queue);
  await q.close();
  const { open: openOutbox } = core.Outbox;
  const outbox = await openOutbox({ name: 'detached-outbox', store });
  expect(outbox).toBeInstanceOf(core.Outbox);
  await outbox.close();
  // Without a store, where the core has no default: refused as any open without one, not a TypeError.
  await expect(open({ name: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
});
