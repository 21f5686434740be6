import { spawn } from 'node:child_process';
import fs, { linkSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Queue, SluiceError } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { main } from '../../../src/platform/cli.js';
import { thisProcess } from '../../../src/stores/fs/process-id.js';
import { cliSuite, exited } from './child.js';

// How `sluice drain` hands items over: it takes until the queue has none ready, and holds what it takes for as long
// as stdout needs to take it.

const cli = cliSuite('sluice-cli-drain-');
let out: string[];
let err: string[];
const io = { out: (line: string) => void out.push(line), err: (line: string) => void err.push(line) };
const store = () => new FileStore({ dir: cli.dir });

beforeEach(async () => {
  out = [];
  err = [];
  const q = await Queue.open<{ i: number }>({ name: 'q', store: store() });
  await q.pushMany(Array.from({ length: 30 }, (_, i) => ({ i })));
  await q.close();
});

async function size(name = 'q'): Promise<number> {
  const q = await Queue.open({ name, store: store() });
  try {
    return await q.size();
  } finally {
    await q.close();
  }
}

/** `drain q --limit 5`, its stdout slow to take the first batch: resolves once it waits on it; `write` lets it go on. */
async function slowDrain(): Promise<{ drained: Promise<number>; write: () => void }> {
  let writing!: () => void;
  let write!: () => void;
  const started = new Promise<void>((resolve) => (writing = resolve));
  const gate = new Promise<void>((resolve) => (write = resolve));
  const drained = main(['drain', 'q', '--dir', cli.dir, '--limit', '5'], { ...io, written: () => (writing(), gate) });
  await started;
  return { drained, write };
}

describe('sluice drain', () => {
  it('takes the items of a process that died holding them (stats, as take, sees them free)', async () => {
    const holder = cli.sluice.script(
      `const q = await Queue.open({ name: 'q', store: new FileStore({ dir: process.argv[1] }), leaseMs: 600_000 });
       console.log((await q.take(10)).entries.length);
       setInterval(() => {}, 60_000);`,
      [cli.dir],
    );
    const end = exited(holder);
    expect(String(await new Promise((resolve) => holder.stdout.once('data', resolve))).trim()).toBe('10');
    holder.kill('SIGKILL');
    expect((await end).signal).toBe('SIGKILL');
    const q = await Queue.open({ name: 'q', store: store() });
    expect(await q.stats()).toMatchObject({ size: 30, leased: 0 });
    await q.close();

    expect(await main(['drain', 'q', '--dir', cli.dir], io)).toBe(0);
    expect(out.at(-1)).toBe('Drained 30 entries from q.');
    expect(out.slice(0, -1).map((line) => JSON.parse(line.split('  ')[1]!).i).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(await size()).toBe(0);
  });

  it('holds what it took while stdout is slow to take it: a consumer does not get the items too', { timeout: 5000 }, async () => {
    const { drained, write } = await slowDrain();
    // A consumer whose clock is 45 s ahead: to it, a lease of the queue's default 30 s has lapsed.
    const ahead = { now: () => Date.now() + 45_000, setTimeout, clearTimeout };
    const other = await Queue.open<{ i: number }>({ name: 'q', store: store(), clock: ahead });
    const lease = await other.take(10);
    expect(lease?.entries.map((e) => e.value.i)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    await lease!.release();
    await other.close();
    write();
    expect(await drained).toBe(0);
    expect(out).toHaveLength(6);
    expect(await size()).toBe(25);
  });

  it('extends its lease every 20 s while stdout is slow to take the batch', { timeout: 5000 }, async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { drained, write } = await slowDrain();
      const ends = async () => {
        const q = await Queue.open({ name: 'q', store: store() });
        try {
          return [...new Set((await q.list({ limit: 5 })).map((e) => e.availableAt))];
        } finally {
          await q.close();
        }
      };
      const [first] = await ends();
      expect(first).toBeGreaterThan(Date.now() + 55_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await vi.advanceTimersByTimeAsync(20_000);
      await expect.poll(ends).toEqual([expect.any(Number)]);
      await expect.poll(async () => (await ends())[0]! > first!).toBe(true);
      write();
      expect(await drained).toBe(0);
      expect(await size()).toBe(25);
    } finally {
      vi.useRealTimers();
    }
  });

  it('holds a batch a minute at a time: killed where its process cannot be seen gone (another container), it keeps the batch from the workers no longer', { timeout: 5000 }, async () => {
    const { drained, write } = await slowDrain();
    // A consumer whose clock is 61 s ahead: to it, the drain's lease has lapsed.
    const ahead = { now: () => Date.now() + 61_000, setTimeout, clearTimeout };
    const other = await Queue.open<{ i: number }>({ name: 'q', store: store(), clock: ahead });
    const lease = await other.take(5);
    expect(lease?.entries.map((e) => e.value.i)).toEqual([0, 1, 2, 3, 4]);
    await lease!.ack();
    await other.close();
    write();
    // The batch the drain printed went to the consumer as well (at least once): acked by both, gone once.
    expect(await drained).toBe(0);
    expect(await size()).toBe(25);
  });

  it('Ctrl-C while stdout does not read: the batch goes back unacked within a second, and the drain exits 130', { timeout: 15_000 }, async () => {
    const q = await Queue.open<{ text: string }>({ name: 'big', store: store() });
    // 300 items of 1 KB: more than a pipe holds, so the drain waits on stdout with a batch leased.
    await q.pushMany(Array.from({ length: 300 }, (_, i) => ({ text: `${i}`.padEnd(1024, '.') })));
    await q.close();
    const child = cli.sluice.cli(['drain', 'big', '--dir', cli.dir]);
    const ended = exited(child);
    // Once it prints (on a loaded machine, seconds after the start), and the pipe has filled.
    await new Promise((resolve) => child.stdout.once('readable', resolve));
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.kill('SIGINT');
    const { code, stderr } = await ended;
    expect(code).toBe(130);
    // How many went into the pipe, acked, is said on stderr (stdout being the pipe that does not read).
    const said = /^sluice: (\d+) entr(?:y was|ies were) drained from big \(written, then acked\) before SIGINT; the batch being written was put back, unacked\.\n$/.exec(stderr);
    expect(said, stderr).not.toBeNull();
    const after = await Queue.open({ name: 'big', store: store() });
    // Whatever was acked went out whole; nothing is leased to the drain that was stopped.
    expect((await after.stats()).leased).toBe(0);
    expect(await after.size()).toBe(300 - Number(said![1]));
    await after.close();
  });

  it('Ctrl-C as the drain closes its queue, all drained, changes nothing: it is heard until the queue is closed, and the drain exits 0', async () => {
    const close = Queue.prototype.close;
    let heard = -1;
    const closing = vi.spyOn(Queue.prototype, 'close').mockImplementation(function (this: Queue<unknown>) {
      heard = process.listenerCount('SIGINT');
      process.emit('SIGINT', 'SIGINT');
      return close.call(this);
    });
    const before = process.listenerCount('SIGINT');
    try {
      expect(await main(['drain', 'q', '--dir', cli.dir], io)).toBe(0);
    } finally {
      closing.mockRestore();
    }
    expect(heard).toBe(before + 1);
    expect(process.listenerCount('SIGINT')).toBe(before);
    expect(out.at(-1)).toBe('Drained 30 entries from q.');
    expect(await size()).toBe(0);
  });

  it('Ctrl-C during the last batch of a --limit stops nothing: all asked for was drained, and the drain exits 0', async () => {
    const written = async () => void process.emit('SIGINT', 'SIGINT');
    expect(await main(['drain', 'q', '--dir', cli.dir, '--limit', '5'], { ...io, written })).toBe(0);
    expect(out.at(-1)).toBe('Drained 5 entries from q.');
    expect(await size()).toBe(25);
  });

  it('Ctrl-C while it waits for the lock a hung process holds ends it at once (not after lockTimeoutMs, with ERR_LOCKED)', { timeout: 15_000 }, async () => {
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => holder.once('spawn', resolve));
      const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
      writeFileSync(join(cli.dir, 'q', 'lock'), JSON.stringify({ ...thisProcess(), pid: holder.pid, start: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) }));
      const child = cli.sluice.cli(['drain', 'q', '--dir', cli.dir]);
      const ended = exited(child);
      // Its handle made (its lock content, named by its pid, is there): it waits for the lock.
      await expect.poll(() => readdirSync(join(cli.dir, 'q')).some((f) => f.startsWith(`lock.${child.pid}_`) && f.endsWith('.own')), { timeout: 10_000, interval: 20 }).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill('SIGINT');
      expect(await ended).toMatchObject({ code: null, signal: 'SIGINT' });
    } finally {
      holder.kill('SIGKILL');
    }
    // Its holder gone, the lock is taken over at once: nothing was drained.
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(await size()).toBe(30);
  });

  // The second's cut-off still fired during the ack: stderr said the batch was put back, unacked, while it was acked.
  it('Ctrl-C while stdout does not read, the batch then read and its ack slow (a lock held): the drain says what it acked, not "put back"', { timeout: 20_000 }, async () => {
    const q = await Queue.open<{ text: string }>({ name: 'big', store: store() });
    await q.pushMany(Array.from({ length: 300 }, (_, i) => ({ text: `${i}`.padEnd(1024, '.') })));
    await q.close();
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const child = cli.sluice.cli(['drain', 'big', '--dir', cli.dir]);
      const ended = exited(child);
      child.stdout.pause();
      await new Promise((resolve) => child.stdout.once('readable', resolve));
      await new Promise((resolve) => setTimeout(resolve, 500));
      // A live process holds the lock: the ack, once the batch is read, waits for it past the second.
      const lock = join(cli.dir, 'big', 'lock');
      writeFileSync(`${lock}.held`, JSON.stringify({ ...thisProcess(), pid: holder.pid, start: undefined }));
      linkSync(`${lock}.held`, lock);
      child.kill('SIGINT');
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
      child.stdout.resume();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      unlinkSync(lock);
      const { code, stderr } = await ended;
      expect([code, stderr]).toEqual([130, '']);
      const said = /Drained (\d+) entries from big \(stopped by SIGINT\)\.\n$/.exec(stdout);
      expect(said, stdout.slice(-200)).not.toBeNull();
      expect(await size('big')).toBe(300 - Number(said![1]));
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('an ack that fails once the batch is written says so, with how far it got, and that the batch was not acked', async () => {
    // The queue's directory deleted while the batch is written: its ack (and its give-back) cannot be made.
    const failing = { ...io, written: async () => rmSync(join(cli.dir, 'q'), { recursive: true, force: true }) };
    expect(await main(['drain', 'q', '--dir', cli.dir, '--limit', '5'], failing)).not.toBe(0);
    expect(err.join('\n')).toMatch(/0 entries were drained from q \(written, then acked\); the 5 written last were not acked: they stay leased until the lease ends/);
  });

  it('an ack that a full disk refuses says so, though the close after it fails too (the leases cannot be given up)', async () => {
    const { writeSync } = fs;
    const full = (fd: number, ...rest: unknown[]) => {
      if (!fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.seg')) throw Object.assign(new Error('ENOSPC: simulated, write'), { code: 'ENOSPC' });
      return (writeSync as (...args: unknown[]) => number)(fd, ...rest);
    };
    // Once the batch is written, every write but a segment's fails: the ack, the give-back, the close's releases.
    const filling = { ...io, written: async () => (Object.assign(fs, { writeSync: full }), syncBuiltinESMExports()) };
    try {
      expect(await main(['drain', 'q', '--dir', cli.dir, '--limit', '5'], filling)).toBe(1);
    } finally {
      Object.assign(fs, { writeSync });
      syncBuiltinESMExports();
    }
    // The close's own error took the place of this one, which alone says the batch printed was not acked.
    expect(err.join('\n')).toMatch(/the disk is full\. 0 entries were drained from q \(written, then acked\); the 5 written last were not acked: they stay leased/);
    expect(await size()).toBe(30);
  });

  /** Queue "seg": 300 items in segments of 100, the second segment failing its checksum in its middle. */
  async function damagedInTheMiddle(): Promise<void> {
    const q = await Queue.open<{ i: number }>({ name: 'seg', store: store(), segmentItems: 100 });
    for (let k = 0; k < 3; k++) await q.pushMany(Array.from({ length: 100 }, (_, i) => ({ i: 100 * k + i })));
    await q.close();
    const second = readdirSync(join(cli.dir, 'seg')).filter((f) => f.endsWith('.seg')).sort()[1]!;
    const bytes = readFileSync(join(cli.dir, 'seg', second));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(join(cli.dir, 'seg', second), bytes);
  }

  it('a drain that stops part way (a segment that fails its checksum) says how many it drained before', async () => {
    await damagedInTheMiddle();
    expect(await main(['drain', 'seg', '--dir', cli.dir], io)).toBe(1);
    expect(out).toHaveLength(100);
    expect(err.join('\n')).toMatch(/ERR_CORRUPT.* 100 entries were drained from seg before this \(written, then acked\)\./s);
  });

  it('with --corruption skip, a drain that meets damage part way stops there, keeps the rest and exits 3', async () => {
    await damagedInTheMiddle();
    expect(await main(['drain', 'seg', '--dir', cli.dir, '--corruption', 'skip'], io)).toBe(3);
    // The first batch only: exit 3 must not follow a drain that took everything.
    expect(out).toHaveLength(100);
    const lost = Number(/^sluice: corrupt: seg: checksum: (\d+) unacked items? lost/.exec(err[0]!)?.[1]);
    expect(lost).toBeGreaterThan(0);
    expect(err.at(-1)).toMatch(/^sluice: The drain stopped: seg needed repair \(above\)\. 100 entries were drained before it \(written, then acked\); the rest is left\./);
    const after = await Queue.open<{ i: number }>({ name: 'seg', store: store() });
    expect(await after.size()).toBe(200 - lost);
    await after.close();
    // Run again knowing it: the rest is drained.
    out = [];
    expect(await main(['drain', 'seg', '--dir', cli.dir, '--json'], io)).toBe(0);
    expect(out).toHaveLength(200 - lost);
  });

  it('a clear whose report cannot be written says the change is made all the same', async () => {
    const failing = { ...io, written: async () => Promise.reject(new SluiceError('ERR_STORAGE', 'Writing to stdout failed (ENOSPC).')) };
    expect(await main(['clear', 'q', '--dir', cli.dir], failing)).toBe(1);
    expect(err).toEqual(["sluice: ERR_STORAGE: Writing to stdout failed (ENOSPC). The command's change is made all the same: Removed 30 entries from q."]);
    expect(await size()).toBe(0);
  });

  it('a write that fails puts the batch back unacked, and exits 1 saying how far it got', async () => {
    const q = await Queue.open<{ i: number }>({ name: 'q', store: store() });
    await q.pushMany(Array.from({ length: 200 }, (_, i) => ({ i: 30 + i })));
    await q.close();
    // Batches of 100: the first is written, the second fails.
    let batches = 0;
    const failing = {
      ...io,
      written: async () => {
        if (++batches === 2) throw new SluiceError('ERR_STORAGE', 'Writing to stdout failed (EIO).');
      },
    };
    expect(await main(['drain', 'q', '--dir', cli.dir], failing)).toBe(1);
    expect(err).toEqual(['sluice: ERR_STORAGE: Writing to stdout failed (EIO). 100 entries were drained from q (written, then acked); the 100 being written were put back, unacked.']);
    expect(await size()).toBe(130);
  });
});
