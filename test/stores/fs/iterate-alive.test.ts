import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { bundle, exited, type Bundle } from '../../platform/cli/child.js';

// A Node process whose only work is `for await (const lease of queue)` waits for items: neither the file system's
// change notices nor the poll behind them keep a process alive, so the wait itself must. And once the iteration ends
// (the queue closed, its signal aborted, the loop left), nothing may keep the process alive any longer.

/**
 * A worker in a plain async main() (as a CommonJS-minded script has it, not top-level await): iterates the queue in
 * process.argv[1], saying "waiting" first and "got <n>" for each lease, and on SIGUSR2 ends the way `mode` names.
 * Signal listeners keep no process alive, so they leave the question to the iteration.
 */
const worker = `
  const [dir, mode] = process.argv.slice(1);
  async function main() {
    const queue = await Queue.open({ name: 'q', store: new FileStore({ dir }) });
    const abort = new AbortController();
    process.on('SIGUSR2', () => (mode === 'close' ? queue.close() : abort.abort()));
    console.log('waiting');
    for await (const lease of queue.iterate({ signal: abort.signal })) {
      console.log('got', lease.entries.length);
      await lease.ack();
      if (mode === 'break') break;
    }
    console.log('ended');
  }
  main().catch((error) => { console.error(error); process.exit(1); });`;

let sluice: Bundle;
beforeAll(async () => {
  sluice = await bundle();
}, 60_000);
afterAll(() => sluice.remove());

let dir: string;
const children: ChildProcessWithoutNullStreams[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-alive-'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(mode: 'close' | 'abort' | 'break'): { child: ChildProcessWithoutNullStreams; said: (line: string) => Promise<void>; out: () => string } {
  const child = sluice.script(worker, [dir, mode]);
  children.push(child);
  let out = '';
  const hear: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    out += text;
    for (const h of hear) h();
  });
  const said = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const look = () => out.split('\n').includes(line) && resolve();
      hear.push(look);
      child.on('close', () => reject(new Error(`the worker ended before saying "${line}": ${JSON.stringify(out)}`)));
      look();
    });
  return { child, said, out: () => out };
}

/** Gives the worker time in which it would have exited, were nothing keeping it alive. */
const idle = () => new Promise((resolve) => setTimeout(resolve, 500));

describe('Queue.iterate() on a FileStore in a Node process', () => {
  it.each(['close', 'abort'] as const)('keeps the process alive while it waits for items, and lets it exit once it ends (%s)', async (mode) => {
    const { child, said, out } = start(mode);
    const ending = exited(child);
    await said('waiting');
    await idle();
    expect([child.exitCode, out()]).toEqual([null, 'waiting\n']);
    child.kill('SIGUSR2');
    expect(await ending).toMatchObject({ code: 0, signal: null });
    expect(out()).toBe('waiting\nended\n');
  }, 30_000);

  it('hands a push from another process to the waiting worker, and lets it exit once the loop is left', async () => {
    const { child, said, out } = start('break');
    const ending = exited(child);
    await said('waiting');
    await idle();
    expect(child.exitCode).toBe(null);
    const queue = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
    try {
      await queue.push(1);
      expect(await ending).toMatchObject({ code: 0, signal: null });
      expect(out()).toBe('waiting\ngot 1\nended\n');
      expect(await queue.size()).toBe(0);
    } finally {
      await queue.close();
    }
  }, 30_000);
});
