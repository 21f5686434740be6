import fs, { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StorageBatch } from '../../../src/core/store.js';
import { Queue, SluiceError } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { patchFs, realFs, restoreFs, restoreFsAfterEach } from './patch-fs.js';
import { codeOf, tempQueueDir } from './queue-dir.js';
import { thisProcess } from '../../../src/stores/fs/process-id.js';

const q = tempQueueDir('sluice-failed-');
const bytes = (...values: number[]) => Uint8Array.from(values);
const relaxed = (batch: Omit<StorageBatch, 'durability'>): StorageBatch => ({ ...batch, durability: 'relaxed' });
const seg = (id: number) => q.file(`${String(id).padStart(16, '0')}.seg`);
const failure = (code: string) => Object.assign(new Error(`${code}: simulated, write`), { code });

restoreFsAfterEach();

/**
 * A disk that fills up at the `n`th write from now (counting each `writeSync`): that write puts down the first half of
 * what it was asked to (as the kernel does when room runs out part way), the next one fails with ENOSPC.
 */
function fillUpAt(n: number): void {
  let calls = 0;
  let torn = false;
  patchFs({
    writeSync: ((fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => {
      if (torn) throw failure('ENOSPC');
      if (++calls < n) return realFs.writeSync(fd, buffer, offset, length, position);
      torn = true;
      return realFs.writeSync(fd, buffer, offset, Math.floor(length / 2), position);
    }) as typeof fs.writeSync,
  });
}

describe('FileStore: a commit that fails part way leaves nothing behind', () => {
  it('Queue.push(): pushes rejected with ERR_QUOTA_EXCEEDED, the disk full part way through their write, are never delivered', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      await queue.push('before');
      fillUpAt(1);
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => queue.push(`job-${i}`)));
      restoreFs();
      expect(results.map((r) => (r.status === 'rejected' && r.reason instanceof SluiceError ? r.reason.code : r.status))).toEqual(
        Array(6).fill('ERR_QUOTA_EXCEEDED'),
      );
      const delivered: string[] = [];
      for (let lease = await queue.take(1); lease; lease = await queue.take(1)) {
        delivered.push(lease.entries[0]!.value);
        await lease.ack();
      }
      expect(delivered).toEqual(['before']);
    } finally {
      await queue.close();
    }
  });

  it('Queue.push(): the data in, a commit counter that cannot be written (the disk full) does not reject the push', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    const other = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      await queue.push('before');
      // Appends into the segment still fit; the counter's new file does not.
      patchFs({
        writeSync: ((fd: number, ...rest: unknown[]) => {
          if (!fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.seg')) throw failure('ENOSPC');
          return (realFs.writeSync as (...args: unknown[]) => number)(fd, ...rest);
        }) as typeof fs.writeSync,
      });
      await expect(queue.push('stored')).resolves.toBe('1');
      restoreFs();
      // Untold by the counter, another handle finds the push all the same, and nothing it commits overwrites it.
      await other.push('after');
      expect((await other.list()).map((e) => e.value)).toEqual(['before', 'stored', 'after']);
      expect((await queue.list()).map((e) => e.value)).toEqual(['before', 'stored', 'after']);
    } finally {
      restoreFs();
      await queue.close();
      await other.close();
    }
  });

  it.each(['relaxed', 'strict'] as const)('ack() and clear(): in, a commit counter that cannot be written before a segment is freed does not reject them (%s)', async (durability) => {
    const queue = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: q.root() }), durability, segmentItems: 10 });
    const other = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      for (let b = 0; b < 3; b++) await queue.pushMany(Array.from({ length: 10 }, (_, i) => b * 10 + i));
      const lease = (await queue.take(10))!;
      // The counter is written over in place before a freed segment goes: a copy-on-write disk may refuse that when full.
      patchFs({
        writeSync: ((fd: number, ...rest: unknown[]) => {
          // The counter's descriptor is of the file it was made as, linked into place as `commits` (see counter.ts).
          if (/\/commits($|\.)/.test(fs.readlinkSync(`/proc/self/fd/${fd}`))) throw failure('ENOSPC');
          return (realFs.writeSync as (...args: unknown[]) => number)(fd, ...rest);
        }) as typeof fs.writeSync,
      });
      // Rejected, it said the items were still leased (to come again), and the clear that nothing was removed.
      await expect(lease.ack()).resolves.toBeUndefined();
      await expect(queue.clear()).resolves.toBe(20);
      restoreFs();
      // Untold by the counter (its bump failed too), the other handle finds what was committed at its next commit.
      await other.push(30);
      expect((await other.list()).map((e) => e.value)).toEqual([30]);
      const lease30 = (await queue.take(10))!;
      expect(lease30.entries.map((e) => e.value)).toEqual([30]);
      // What those commits freed and left on disk goes with the next ack.
      expect(fs.readdirSync(q.file()).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(1);
      await lease30.ack();
      expect(fs.readdirSync(q.file()).filter((f) => f.endsWith('.seg'))).toEqual([`${String(31).padStart(16, '0')}.seg`]);
    } finally {
      restoreFs();
      await queue.close();
      await other.close();
    }
  });

  const here = thisProcess();
  it.skipIf(here.start === undefined || here.ns === undefined)('Queue.open(): a disk filled by a process killed on it is no reason no handle can open the queue: its leftovers make room', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    await queue.push('kept');
    await queue.close();
    // A process that died (this pid, another start time) left its lock content, holding the disk's last page.
    const dead = q.file(`lock.${here.pid}_${here.start! + 1}.${Number(here.ns).toString(16).padStart(8, '0')}0a1b2c3d.own`);
    fs.writeFileSync(dead, '{}');
    patchFs({
      writeSync: ((fd: number, ...rest: unknown[]) => {
        if (existsSync(dead)) throw failure('ENOSPC');
        return (realFs.writeSync as (...args: unknown[]) => number)(fd, ...rest);
      }) as typeof fs.writeSync,
    });
    // Opening writes this handle's lock content first; the leftovers were cleared only after it, under the lock.
    const reopened = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      expect(existsSync(dead)).toBe(false);
      expect((await reopened.list()).map((e) => e.value)).toEqual(['kept']);
    } finally {
      restoreFs();
      await reopened.close();
    }
  });

  it('FileQueueStorage.commit(): a failing metadata write takes back the segment written before it', async () => {
    const s = await q.open();
    let token = (await s.load()).token;
    token = (await s.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1, 2) }, meta: bytes(7) })))!;
    // The segment's write goes through; the metadata's, the next, finds the disk full.
    fillUpAt(2);
    const batch = relaxed({ write: { segment: 0, offset: 2, bytes: bytes(3, 4, 5, 6) }, meta: bytes(8, 8, 8, 8) });
    expect(await codeOf(s.commit(token, batch))).toBe('ERR_QUOTA_EXCEEDED');
    restoreFs();
    expect([...readFileSync(seg(0))]).toEqual([1, 2]);
    expect([...readFileSync(q.file('meta'))]).toEqual([7]);
  });

  it('FileQueueStorage.commit(): a segment the failed commit made is removed, an append to `meta` cut back', async () => {
    const s = await q.open();
    let token = (await s.load()).token;
    token = (await s.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) }, meta: bytes(7, 7) })))!;
    fillUpAt(2);
    const batch = relaxed({ write: { segment: 1, offset: 0, bytes: bytes(2, 3) }, metaAppend: { offset: 2, bytes: bytes(9, 9, 9, 9) } });
    expect(await codeOf(s.commit(token, batch))).toBe('ERR_QUOTA_EXCEEDED');
    restoreFs();
    expect(existsSync(seg(1))).toBe(false);
    expect([...readFileSync(q.file('meta'))]).toEqual([7, 7]);
    // Nothing is left that the next commit trips on.
    const snapshot = await s.load();
    expect(snapshot.segments).toEqual([{ id: 0, length: 1 }]);
    expect(await s.commit(snapshot.token, relaxed({ write: { segment: 1, offset: 0, bytes: bytes(2) } }))).toBeDefined();
  });

  it('FileQueueStorage.commit(): when the partial write cannot be taken back, the error says the queue may hold it', async () => {
    const s = await q.open();
    let token = (await s.load()).token;
    token = (await s.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1, 2) } })))!;
    fillUpAt(1);
    patchFs({
      ftruncateSync: () => {
        throw failure('EIO');
      },
    });
    const error = await s.commit(token, relaxed({ write: { segment: 0, offset: 2, bytes: bytes(3, 4, 5, 6) } })).catch((e: unknown) => e);
    restoreFs();
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('ERR_STORAGE');
    expect((error as SluiceError).message).toMatch(/ENOSPC.*EIO.*may hold part of that commit/);
    expect(((error as SluiceError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(statSync(seg(0)).size).toBe(4);
  });
});
