import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync, openSync, readFileSync, closeSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StorageBatch } from '../../../src/core/store.js';
import { Queue } from '../../../src/index.js';
import { crc32 } from '../../../src/core/crc32.js';
import { FileStore, type LockTiming } from '../../../src/fs.js';
import { tempQueueDir } from './queue-dir.js';

// What a handle reads again when other handles committed, what a strict commit syncs while it holds the lock, and
// what its holds of the lock tell.
const { root, file, open } = tempQueueDir('sluice-reload-');
const seg = (id: number) => file(`${String(id).padStart(16, '0')}.seg`);
const write = (segment: number, offset: number, ...values: number[]): StorageBatch => ({
  write: { segment, offset, bytes: Uint8Array.from(values) },
  durability: 'relaxed',
});

describe('FileQueueStorage.load() after other handles committed', () => {
  it('lists the segments as they are: appended to, made and removed by other handles', async () => {
    const a = await open();
    const b = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, write(0, 0, 1, 2)))!;
    token = (await a.commit(token, write(10, 0, 3)))!;
    expect((await b.load()).segments).toEqual([{ id: 0, length: 2 }, { id: 10, length: 1 }]);
    token = (await a.commit(token, write(10, 1, 4, 5)))!;
    expect((await b.load()).segments).toEqual([{ id: 0, length: 2 }, { id: 10, length: 3 }]);
    token = (await a.commit(token, { remove: [0], durability: 'relaxed' }))!;
    expect((await b.load()).segments).toEqual([{ id: 10, length: 3 }]);
    token = (await a.commit(token, write(20, 0, 6)))!;
    expect((await b.load()).segments).toEqual([{ id: 10, length: 3 }, { id: 20, length: 1 }]);
  });

  it('lists every segment again when the counter was written by an earlier version, which does not say whether segments were made or removed', async () => {
    const a = await open();
    const b = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, write(0, 0, 1)))!;
    token = (await a.commit(token, write(10, 0, 2)))!;
    expect((await b.load()).segments).toHaveLength(2);
    // What an earlier version's commit leaves: segment 0 removed, and only the counter's first 36 bytes written.
    unlinkSync(seg(0));
    const counter = readFileSync(file('commits'));
    const view = new DataView(counter.buffer, counter.byteOffset, 36);
    view.setFloat64(0, view.getFloat64(0, true) + 1, true);
    view.setUint32(32, crc32(counter, 0, 32), true);
    const fd = openSync(file('commits'), 'r+');
    writeSync(fd, counter, 0, 36, 0);
    closeSync(fd);
    expect((await b.load()).segments).toEqual([{ id: 10, length: 1 }]);
  });

  it('a sealed segment cut under the queue: the read that comes up short makes the next load look again', async () => {
    const store = new FileStore({ dir: root() });
    const a = await Queue.open<number>({ name: 'q', store, segmentItems: 2, corruption: 'skip' });
    const b = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: root() }), segmentItems: 2, corruption: 'skip' });
    await a.pushMany([0, 1]);
    await a.pushMany([2, 3]);
    await a.pushMany([4, 5]);
    // b lists the segments; then another handle commits, making and removing no segment: b's listing stays good.
    expect(await b.size()).toBe(6);
    await (await a.take(1))!.release();
    truncateSync(seg(2), 0);
    const lost: string[][] = [];
    b.addEventListener('corrupt', (event) => lost.push([...event.detail.lost]));
    const taken: number[] = [];
    for (let lease = await b.take(10); lease; lease = await b.take(10)) {
      taken.push(...lease.entries.map((e) => e.value));
      await lease.ack();
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(taken).toEqual([0, 1, 4, 5]);
    expect(lost.flat()).toEqual(['2', '3']);
    await a.close();
    await b.close();
  });
});

describe('strict commits and the lock', () => {
  it('a commit that appends metadata syncs it before it gives the lock up', async () => {
    // Not after: an fsync stalls the other processes' writes to the same file system (their lock files, counter and
    // metadata) while it runs, and freeing the lock before it lets them run into that stall holding the lock.
    const seen: boolean[] = [];
    const s = await open({ sync: { fsync: async () => undefined, fdatasync: async () => void seen.push(existsSync(file('lock'))) } });
    let token = (await s.load()).token;
    token = (await s.commit(token, { meta: Uint8Array.of(1), durability: 'relaxed' }))!;
    expect(await s.commit(token, { metaAppend: { offset: 1, bytes: Uint8Array.of(2) }, durability: 'strict' })).toBeDefined();
    expect(seen).toEqual([true]);
  });

  it('a commit that removes a segment syncs the metadata before the removal, holding the lock', async () => {
    const order: string[] = [];
    const s = await open({
      sync: {
        fsync: async () => void order.push('fsync'),
        fdatasync: async () => void order.push(`fdatasync (lock ${existsSync(file('lock')) ? 'held' : 'free'}, segment ${existsSync(seg(0)) ? 'there' : 'gone'})`),
      },
    });
    let token = (await s.load()).token;
    token = (await s.commit(token, { ...write(0, 0, 1), meta: Uint8Array.of(1) }))!;
    order.length = 0;
    await s.commit(token, { metaAppend: { offset: 1, bytes: Uint8Array.of(2) }, remove: [0], durability: 'strict' });
    expect(order[0]).toBe('fdatasync (lock held, segment there)');
    expect(existsSync(seg(0))).toBe(false);
  });
});

describe('a queue shared by handles', () => {
  it('takes the lock once per take and ack that follows another handle\'s commit: none loses and is made again', async () => {
    const store = new FileStore({ dir: root() });
    const a = await Queue.open<number>({ name: 'q', store });
    const b = await Queue.open<number>({ name: 'q', store });
    let holds = 0;
    const listener = () => void holds++;
    subscribe('sluice:fs:lock', listener);
    try {
      for (let i = 0; i < 5; i++) {
        await a.pushMany([i, 10 + i]);
        // Each of these finds its view stale, made so by the other handle.
        holds = 0;
        const lease = (await b.take(1))!;
        expect(lease.entries.map((e) => e.value)).toEqual([i]);
        const other = (await a.take(1))!;
        expect(other.entries.map((e) => e.value)).toEqual([10 + i]);
        await lease.ack();
        await other.ack();
        // A plan made on a stale view was committed in vain (one hold), read again (a second) and made again (a third).
        expect(holds).toBe(4);
      }
    } finally {
      unsubscribe('sluice:fs:lock', listener);
      await a.close();
      await b.close();
    }
  });
});

describe("the 'sluice:fs:lock' diagnostics channel", () => {
  it('tells, for every hold of a queue directory\'s lock, how long it was waited for and held', async () => {
    const heard: LockTiming[] = [];
    const listener = (message: unknown) => void heard.push(message as LockTiming);
    const s = await open();
    subscribe('sluice:fs:lock', listener);
    try {
      await s.commit((await s.load()).token, write(0, 0, 1));
    } finally {
      unsubscribe('sluice:fs:lock', listener);
    }
    expect(heard).toHaveLength(2);
    for (const timing of heard) {
      expect(timing.dir).toBe(file());
      expect(timing.waitMs).toBeGreaterThanOrEqual(0);
      expect(timing.holdMs).toBeGreaterThanOrEqual(0);
    }
  });
});
