import { closeSync, existsSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { cliSuite, exited } from './child.js';

// The CLI in a process of its own, its stdout a real pipe whose reader goes away (`sluice drain q | head -1`), or a
// file that takes nothing (/dev/full): what it printed but could not write must stay in the queue.

const cli = cliSuite('sluice-cli-pipes-');
const store = () => new FileStore({ dir: cli.dir });

/** Queue "q" with `n` items of some 200 bytes each: {i: 0}, {i: 1}, ... */
async function fill(n: number): Promise<void> {
  const q = await Queue.open<{ i: number; pad: string }>({ name: 'q', store: store() });
  await q.pushMany(Array.from({ length: n }, (_, i) => ({ i, pad: 'x'.repeat(200) })));
  await q.close();
}

/** The `i` of every item left in "q", in order. */
async function left(): Promise<number[]> {
  const q = await Queue.open<{ i: number }>({ name: 'q', store: store() });
  try {
    return (await q.list()).map((e) => e.value.i);
  } finally {
    await q.close();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const CLOSED = /^sluice: ERR_CLOSED: The reader of stdout closed it \(EPIPE\)\. (\d+) entries were drained from q \(written, then acked\); the \d+ being written were put back, unacked\.\n$/;

describe('drain into a pipe whose reader goes away', () => {
  it('acks only what was written: the rest stays in the queue, in order; one line on stderr, exit 1', async () => {
    await fill(5000);
    const child = cli.sluice.cli(['drain', 'q', '--dir', cli.dir]);
    const end = exited(child);
    // `| head -1`: the reader takes the first line and goes.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const { code, stderr } = await end;
    expect(stderr).toMatch(CLOSED);
    expect(code).toBe(1);
    const drained = Number(CLOSED.exec(stderr)![1]);
    expect(await left()).toEqual(range(drained, 5000));
    // A pipe holds 64 KiB, some 300 of these lines: what was acked went into it, not all 5000.
    expect(drained).toBeLessThan(1000);
  });

  it('a reader gone before the first line: nothing is acked', async () => {
    await fill(3);
    const child = cli.sluice.cli(['drain', 'q', '--dir', cli.dir, '--json']);
    child.stdout.destroy();
    const { code, stderr } = await exited(child);
    expect(JSON.parse(stderr)).toEqual({ error: { code: 'ERR_CLOSED', message: expect.stringMatching(/EPIPE.* 0 entries were drained .*the 3 being written were put back/) } });
    expect(code).toBe(1);
    expect(await left()).toEqual([0, 1, 2]);
  });
});

describe('read-only commands into a pipe whose reader goes away', () => {
  it('end without a word, as Unix tools do, and exit 1: no stack trace', async () => {
    await fill(3);
    for (const args of [['stats', 'q'], ['ls'], ['peek', 'q'], ['--help'], ['help'], ['--version']]) {
      const child = cli.sluice.cli([...args, '--dir', cli.dir]);
      child.stdout.destroy();
      expect(await exited(child), args.join(' ')).toEqual({ code: 1, signal: null, stderr: '' });
    }
    expect(await left()).toEqual([0, 1, 2]);
  });
});

describe.runIf(existsSync('/dev/full'))('stdout on a full disk (/dev/full)', () => {
  it('drain acks nothing and says so; stats says so too; exit 1', async () => {
    await fill(3);
    for (const args of [['drain', 'q'], ['stats', 'q']]) {
      const full = openSync('/dev/full', 'w');
      const child = cli.sluice.cliTo(full, [...args, '--dir', cli.dir]);
      closeSync(full);
      const { code, stderr } = await exited(child);
      expect(stderr, args[0]).toMatch(/^sluice: ERR_STORAGE: Writing to stdout failed \(ENOSPC\)\..*\n$/);
      expect(code, args[0]).toBe(1);
    }
    expect(await left()).toEqual([0, 1, 2]);
  });
});

describe.runIf(existsSync('/dev/null') && existsSync('/bin/sh'))('stdout on the null device, or closed', () => {
  const NOWHERE = /ERR_CLOSED.{1,20}stdout is closed or the null device: what drain prints would be lost, unseen\. Nothing was drained from q; .*sluice clear/;

  it('drain takes nothing and exits 1 (> /dev/null); read-only commands run', async () => {
    await fill(3);
    for (const args of [['drain', 'q'], ['drain', 'q', '--limit', '1', '--json'], ['stats', 'q']]) {
      const nothing = openSync('/dev/null', 'w');
      const child = cli.sluice.cliTo(nothing, [...args, '--dir', cli.dir]);
      closeSync(nothing);
      const { code, stderr } = await exited(child);
      if (args[0] === 'stats') expect(code).toBe(0);
      else {
        expect(stderr, args.join(' ')).toMatch(NOWHERE);
        expect(code, args.join(' ')).toBe(1);
      }
    }
    expect(await left()).toEqual([0, 1, 2]);
  });

  it('a queue that is not there is said so first (exit 2), whatever stdout is', async () => {
    const nothing = openSync('/dev/null', 'w');
    const child = cli.sluice.cliTo(nothing, ['drain', 'nope', '--dir', cli.dir]);
    closeSync(nothing);
    const { code, stderr } = await exited(child);
    expect(stderr).toMatch(/ERR_NOT_FOUND/);
    expect(code).toBe(2);
  });

  it('drain with stdout closed (>&-, which Node fills with the null device) takes nothing and exits 1', async () => {
    await fill(3);
    const { code, stderr } = await exited(cli.sluice.cliClosed(['drain', 'q', '--dir', cli.dir]));
    expect(stderr).toMatch(NOWHERE);
    expect(code).toBe(1);
    expect(await left()).toEqual([0, 1, 2]);
  });
});
