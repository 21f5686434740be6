import { cpSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox, Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { codeOf, removeLive, tempQueueDir } from './queue-dir.js';

// A queue directory deleted under a live handle (an operator's `rm -rf`, a temp cleaner), or deleted and made again
// by another handle: the handle says so at its next call, for good, and makes nothing again behind its user's back,
// as with an IndexedDB database deleted under an open queue.
const { root, file } = tempQueueDir('sluice-dir-gone-');
const GONE = /was deleted while this queue was open.*gone/;

async function openQueue(options: { leaseMs?: number } = {}) {
  return Queue.open<number>({ name: 'q', store: new FileStore({ dir: root() }), ...options });
}

describe('a queue directory deleted under a live handle', () => {
  it('rejects every call with ERR_NOT_FOUND from then on, makes nothing again, and closes', async () => {
    const q = await openQueue();
    await q.pushMany([1, 2, 3]);
    const lease = await q.take(1);
    await removeLive(file());
    await expect(q.push(4)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringMatching(GONE) });
    expect(await codeOf(q.take(1))).toBe('ERR_NOT_FOUND');
    expect(await codeOf(lease!.ack())).toBe('ERR_NOT_FOUND');
    expect(await codeOf(q.size())).toBe('ERR_NOT_FOUND');
    expect(await codeOf(q.blobs!.write('b', 0, new Uint8Array([1])))).toBe('ERR_NOT_FOUND');
    expect(existsSync(file())).toBe(false);
    // Its lease went with the queue: nothing to release, so nothing to fail a close.
    await q.close();
    expect(existsSync(file())).toBe(false);
    const again = await openQueue();
    expect(await again.size()).toBe(0);
    await again.close();
  });

  it('says so when the store directory went whole, as when only the queue directory went', async () => {
    const q = await openQueue();
    await q.push(1);
    await removeLive(root());
    await expect(q.push(2)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringMatching(GONE) });
    expect(existsSync(root())).toBe(false);
    await q.close();
    mkdirSync(root());
  });

  it('is told apart from one made again by another handle: that queue is left as that handle made it', async () => {
    const q = await openQueue();
    await q.pushMany([1, 2, 3, 4, 5, 6]);
    await (await q.take(2))!.ack();
    await removeLive(file());
    const other = await openQueue();
    await other.pushMany([10, 11, 12]);
    await expect(q.push(7)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringMatching(/made again since/) });
    expect(await codeOf(q.take(10))).toBe('ERR_NOT_FOUND');
    await q.close();
    // Neither the old handle's push nor a report of its items as lost in the new queue.
    expect(await other.peek(10)).toEqual([10, 11, 12]);
    await other.close();
  });

  it('put back from a copy made while it was open: ERR_NOT_FOUND, and the lock is left to the other handles', async () => {
    const q = await openQueue();
    await q.pushMany([1, 2]);
    await q.take(1);
    cpSync(file(), `${file()}.copy`, { recursive: true });
    await removeLive(file());
    renameSync(`${file()}.copy`, file());
    // The copy holds this handle's lock content under its name: the lock it takes there is released all the same.
    expect(await codeOf(q.push(3))).toBe('ERR_NOT_FOUND');
    await q.close();
    const other = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: root(), lockTimeoutMs: 2000 }) });
    expect(await other.size()).toBe(2);
    await other.close();
  });

  it('wakes a consumer waiting for pushes, whose iteration then rejects with why', async () => {
    const q = await openQueue();
    const waiting = (async () => {
      for await (const lease of q) await lease.ack();
    })().catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await removeLive(file());
    expect(await waiting).toMatchObject({ code: 'ERR_NOT_FOUND' });
    await q.close();
  });

  it("rejects the reads of blobs with ERR_NOT_FOUND, rather than find them empty", async () => {
    const q = await openQueue();
    await q.blobs!.write('b', 0, new Uint8Array([1, 2]));
    await removeLive(file());
    expect(await codeOf(q.blobs!.read('b', 0, 2))).toBe('ERR_NOT_FOUND');
    expect(await codeOf(q.blobs!.keys())).toBe('ERR_NOT_FOUND');
    expect(existsSync(file())).toBe(false);
    await q.close();
  });

  it('does not take a blobs directory deleted alone for the queue gone', async () => {
    const q = await openQueue();
    await q.blobs!.write('b', 0, new Uint8Array([1, 2]));
    await removeLive(join(file(), 'blobs'));
    expect(await q.blobs!.read('b', 0, 2)).toEqual(new Uint8Array(0));
    expect(await q.blobs!.keys()).toEqual([]);
    await q.push(1);
    expect(await q.peek(1)).toEqual([1]);
    await q.close();
  });
});

describe('through the Outbox', () => {
  it('rejects enqueue and flush with ERR_NOT_FOUND, makes nothing again, and closes', async () => {
    let sent = 0;
    const fetch = async () => (sent++, new Response('ok'));
    const outbox = await Outbox.open({ name: 'out', store: new FileStore({ dir: root() }), baseUrl: 'http://127.0.0.1:59', fetch });
    await outbox.enqueue({ url: '/a', method: 'POST', body: { a: 1 } });
    await removeLive(root());
    await expect(outbox.enqueue({ url: '/b', method: 'POST', body: { b: 1 } })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringMatching(GONE) });
    expect(await codeOf(outbox.flush())).toBe('ERR_NOT_FOUND');
    await outbox.close();
    expect(sent).toBe(0);
    expect(existsSync(root())).toBe(false);
    mkdirSync(root());
  });
});
