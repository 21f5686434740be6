import { execFileSync } from 'node:child_process';
import fs, { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { RESERVE_BYTES } from '../../../src/stores/fs/reserve.js';
import { patchFs, realFs, restoreFs, restoreFsAfterEach } from './patch-fs.js';
import { codeOf, tempQueueDir } from './queue-dir.js';

const q = tempQueueDir('sluice-full-');
const PAGE = 4096;
const pages = (size: number) => Math.ceil(size / PAGE) * PAGE;

restoreFsAfterEach();

/** The bytes the files of the queue directory take, whole pages each, as on tmpfs. */
function used(dir: string): number {
  let sum = 0;
  for (const name of readdirSync(dir)) {
    const stat = statSync(join(dir, name), { throwIfNoEntry: false });
    if (stat?.isFile()) sum += pages(stat.size);
  }
  return sum;
}

/**
 * The queue directory as a small disk (tmpfs) holding `capacity` bytes in whole pages from now on: a write that needs a
 * page more than is free writes what fits in the pages its file has, or fails ENOSPC. Unlinking a file frees its pages.
 * Linux only (the file of a descriptor is read from /proc).
 */
function diskOf(dir: string, capacity: number): void {
  const writeSync = ((fd: number, buffer: Uint8Array | string, offset: number, length: number, position: number): number => {
      // A string (a lock file's content): written at `offset` (its position), or at the file's end.
      if (typeof buffer === 'string') return writeSync(fd, Buffer.from(buffer), 0, Buffer.byteLength(buffer), typeof offset === 'number' ? offset : fs.fstatSync(fd).size);
      let path: string;
      try {
        path = fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        path = '';
      }
      if (dirname(path) !== dir) return realFs.writeSync(fd, buffer, offset, length, position);
      const size = fs.fstatSync(fd).size;
      const free = capacity - used(dir);
      const room = pages(size) + Math.max(0, free) - position;
      if (room < length) {
        if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
        length = room;
      }
      return realFs.writeSync(fd, buffer, offset, length, position);
    });
  // The room the disk shows (`statfs`), whole pages.
  const statfsSync = ((path: string, options?: fs.StatFsOptions) => {
    const stats = realFs.statfsSync(path, options as never) as fs.StatsFs;
    if (path !== dir) return stats;
    return Object.assign(Object.create(Object.getPrototypeOf(stats) as object) as fs.StatsFs, stats, { bsize: PAGE, bavail: Math.max(0, Math.floor((capacity - used(dir)) / PAGE)) });
  }) as typeof fs.statfsSync;
  patchFs({ writeSync: writeSync as typeof fs.writeSync, statfsSync });
}

/** A queue of `count` items of `bytes` bytes in segments of 50, then a disk that is full: no page left. */
async function fullQueue(count: number, durability: 'strict' | 'relaxed' = 'relaxed', bytes = 200) {
  const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }), segmentItems: 50, durability });
  for (let i = 0; i < count; i += 10) await queue.pushMany(Array.from({ length: 10 }, (_, j) => `${i + j}`.padEnd(bytes, '.')));
  diskOf(q.file(), used(q.file()));
  // Full: not even a small push fits.
  expect(await codeOf(queue.push('x'.repeat(PAGE)))).toBe('ERR_QUOTA_EXCEEDED');
  return queue;
}

describe.skipIf(process.platform !== 'linux')('FileStore on a full disk', () => {
  it.each(['relaxed', 'strict'] as const)('Queue.take(1) + ack(): a queue drained one item at a time on a full disk is drained whole (acks that need a page make room; %s)', async (durability) => {
    const queue = await fullQueue(300, durability);
    try {
      const drained: number[] = [];
      for (let lease = await queue.take(1); lease; lease = await queue.take(1)) {
        drained.push(parseInt(lease.entries[0]!.value));
        await lease.ack();
      }
      expect(drained).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(readdirSync(q.file()).filter((f) => f.endsWith('.seg'))).toHaveLength(1);
      // The space it freed takes pushes again.
      await queue.push('after');
      expect((await queue.list()).map((e) => e.value)).toEqual(['after']);
    } finally {
      restoreFs();
      await queue.close();
    }
  });

  // Before, the room the spent reserve freed went to the next push of a handle that went on pushing, and the drain
  // that spent it was stuck (every take and ack ERR_QUOTA_EXCEEDED) for as long as pushes came.
  it('Queue.take(1) + ack(): a drain goes on while another handle keeps pushing: no push takes a spent reserve\'s room', async () => {
    const queue = await fullQueue(300);
    const producer = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }), segmentItems: 50 });
    try {
      const drained = new Set<string>();
      const pushed: string[] = [];
      const originals = Array.from({ length: 300 }, (_, i) => `${i}`.padEnd(200, '.'));
      // Five items pushed for each one drained: pushes would take any room the drain freed.
      for (let i = 0; originals.some((item) => !drained.has(item)) && i < 3000; i++) {
        const lease = await queue.take(1);
        if (lease) {
          drained.add(lease.entries[0]!.value);
          await lease.ack();
        }
        const items = Array.from({ length: 5 }, (_, j) => `p${i}.${j}`.padEnd(200, '.'));
        if ((await codeOf(producer.pushMany(items))) === 'resolved') pushed.push(...items);
      }
      for (let lease = await queue.take(1); lease; lease = await queue.take(1)) {
        drained.add(lease.entries[0]!.value);
        await lease.ack();
      }
      expect(originals.filter((item) => !drained.has(item))).toEqual([]);
      expect(pushed.filter((item) => !drained.has(item))).toEqual([]);
    } finally {
      restoreFs();
      await producer.close();
      await queue.close();
    }
  });

  it('Queue.clear(): a full disk can be cleared, and takes pushes after', async () => {
    const queue = await fullQueue(300);
    try {
      await queue.clear();
      expect(await queue.size()).toBe(0);
      await queue.push('after');
      expect((await queue.list()).map((e) => e.value)).toEqual(['after']);
    } finally {
      restoreFs();
      await queue.close();
    }
  });

  it('Queue.push(): a push on a full disk rejects and leaves the reserve whole: only commits that add no item spend it', async () => {
    const queue = await fullQueue(100);
    try {
      expect(statSync(q.file('reserve')).size).toBe(RESERVE_BYTES);
      expect(await codeOf(queue.pushMany(['a', 'b']))).toBe('ERR_QUOTA_EXCEEDED');
      expect(statSync(q.file('reserve')).size).toBe(RESERVE_BYTES);
      expect(await queue.size()).toBe(100);
    } finally {
      restoreFs();
      await queue.close();
    }
  });

  it('Queue.push(): a disk with room for a push but not for the reserve refuses the push (that room is the reserve\'s), keeps no part of a reserve, and is drained', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      await queue.push('first');
      await queue.close();
      fs.unlinkSync(q.file('reserve'));
      diskOf(q.file(), used(q.file()) + 3 * PAGE);
      const again = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
      expect(await codeOf(again.push('x'.repeat(PAGE)))).toBe('ERR_QUOTA_EXCEEDED');
      expect(existsSync(q.file('reserve'))).toBe(false);
      expect(await again.size()).toBe(1);
      const lease = await again.take(1);
      await lease!.ack();
      expect(await again.size()).toBe(0);
      await again.close();
    } finally {
      restoreFs();
    }
  });

  it('FileStore.open(): a reserve cut short (a process killed while making it) is filled up by the next commit; the clearing of leftovers keeps it', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    await queue.push('first');
    await queue.close();
    fs.truncateSync(q.file('reserve'), 100);
    const again = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      expect(statSync(q.file('reserve')).size).toBe(100);
      await again.push('second');
      expect(statSync(q.file('reserve')).size).toBe(RESERVE_BYTES);
      expect((await again.list()).map((e) => e.value)).toEqual(['first', 'second']);
    } finally {
      await again.close();
    }
  });

  it('Queue.ack(): the reserve spent, it is made again by the commit after one that removed a segment, before any push takes the room', async () => {
    // A segment of 50 items of 2 000 bytes: freed, room for the reserve.
    const queue = await fullQueue(100, 'relaxed', 2000);
    try {
      // Drained till the reserve is spent, and on till the first segment is removed.
      const head = () => readdirSync(q.file()).includes(`${'0'.repeat(16)}.seg`);
      let lease = await queue.take(1);
      for (; existsSync(q.file('reserve')); lease = await queue.take(1)) await lease!.ack();
      expect(head()).toBe(true);
      for (; head(); lease = await queue.take(1)) await lease!.ack();
      // That take, the commit after the removal, made the reserve again.
      expect(statSync(q.file('reserve')).size).toBe(RESERVE_BYTES);
      await lease!.ack();
      // Pushes fill what is left of the freed room, and no more.
      let pushed = 0;
      while ((await codeOf(queue.push('x'.repeat(1000)))) === 'resolved') pushed++;
      expect(pushed).toBeGreaterThan(0);
      expect(statSync(q.file('reserve')).size).toBe(RESERVE_BYTES);
    } finally {
      restoreFs();
      await queue.close();
    }
  });
  it('Queue.open(): on a disk full to the last page (the process that filled it gone), an open spends the reserve for its lock file, and the queue is drained', async () => {
    const queue = await fullQueue(100);
    restoreFs();
    await queue.close();
    // Its lock file gone with it, the disk is full again, to the last page (taken by another program's file).
    diskOf(q.file(), used(q.file()) - PAGE);
    try {
      const again = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
      let drained = 0;
      for (let lease = await again.take(1); lease; lease = await again.take(1)) {
        await lease.ack();
        drained++;
      }
      expect(drained).toBe(100);
      await again.close();
    } finally {
      restoreFs();
    }
  });

  it('Queue.take(): a handle whose first commit found no room for the reserve makes it once room comes back, not only after a segment goes', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    await queue.pushMany(['first', 'second']);
    await queue.close();
    fs.unlinkSync(q.file('reserve'));
    diskOf(q.file(), used(q.file()) + 3 * PAGE);
    const again = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      const lease = await again.take(1);
      expect(existsSync(q.file('reserve'))).toBe(false);
      // Room comes back (another program's files removed).
      diskOf(q.file(), used(q.file()) + 100 * PAGE);
      await lease!.ack();
      expect(statSync(q.file('reserve')).size).toBe(RESERVE_BYTES);
      await again.push('third');
    } finally {
      restoreFs();
      await again.close();
    }
  });

  it('FileStore: a FIFO named reserve blocks nothing, and a reserve hard-linked to another file is left as it is', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    await queue.push('first');
    await queue.close();
    fs.unlinkSync(q.file('reserve'));
    execFileSync('mkfifo', [q.file('reserve')]);
    const again = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    await again.push('second');
    await again.close();
    fs.unlinkSync(q.file('reserve'));
    const other = q.file('../other.txt');
    fs.writeFileSync(other, 'not a reserve');
    fs.linkSync(other, q.file('reserve'));
    const third = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    await third.push('third');
    expect((await third.list()).map((e) => e.value)).toEqual(['first', 'second', 'third']);
    await third.close();
    expect(fs.readFileSync(other, 'utf8')).toBe('not a reserve');
  });
});
