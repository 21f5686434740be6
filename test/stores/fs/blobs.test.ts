import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { codeOf, tempQueueDir } from './queue-dir.js';

// FileStore keeps blobs as files, `<queue dir>/blobs/<key>`: whatever a caller asks, every failure is a SluiceError
// and no file is read or written past what the blob holds.
const q = tempQueueDir('sluice-blobs-');
const bytes = (...values: number[]) => Uint8Array.from(values);

describe('FileStore blobs', () => {
  it('.write() at an offset that is neither 0 nor the blob\'s length is ERR_INVALID_OPTION, and writes nothing', async () => {
    const { blobs } = await q.open();
    await blobs!.write('a', 0, bytes(1, 2, 3), 'relaxed');
    for (const offset of [99, 4, 2, 1]) expect(await codeOf(blobs!.write('a', offset, bytes(9), 'relaxed')), `offset ${offset}`).toBe('ERR_INVALID_OPTION');
    expect([...readFileSync(q.file('blobs/a'))]).toEqual([1, 2, 3]);
    // A blob that is not there has no end to append to.
    expect(await codeOf(blobs!.write('absent', 3, bytes(9), 'relaxed'))).toBe('ERR_INVALID_OPTION');
    expect(await blobs!.keys()).toEqual(['a']);
    await blobs!.write('a', 3, bytes(4), 'strict');
    expect([...(await blobs!.read('a', 0, 10))]).toEqual([1, 2, 3, 4]);
  });

  it('.read() of any range gives what the blob holds of it, however far past its end the range goes', async () => {
    const queue = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: q.root() }) });
    try {
      await queue.blobs!.write('a', 0, bytes(1, 2, 3));
      expect([...(await queue.blobs!.read('a', 0, 2 ** 40))]).toEqual([1, 2, 3]);
      expect([...(await queue.blobs!.read('a', 2, Number.MAX_SAFE_INTEGER))]).toEqual([3]);
      expect((await queue.blobs!.read('a', 2 ** 40, 2 ** 41)).length).toBe(0);
    } finally {
      await queue.close();
    }
  });

  it('.write() anew that fails changes nothing: the blob keeps its bytes, and a new blob is not left half made', async () => {
    const failing = { fsync: async () => undefined, fdatasync: async () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) };
    const { blobs } = await q.open({ sync: failing });
    await blobs!.write('a', 0, bytes(1, 2, 3), 'relaxed');
    // A strict write's sync fails: the write is refused, and the blob reads as it was, as in every other store.
    expect(await codeOf(blobs!.write('a', 0, bytes(9, 9), 'strict'))).toBe('ERR_STORAGE');
    expect([...(await blobs!.read('a', 0, 10))]).toEqual([1, 2, 3]);
    expect(await codeOf(blobs!.write('b', 0, bytes(9), 'strict'))).toBe('ERR_STORAGE');
    expect(await blobs!.keys()).toEqual(['a']);
    // Written again, the blob starts afresh.
    await blobs!.write('a', 0, bytes(7), 'relaxed');
    expect([...(await blobs!.read('a', 0, 10))]).toEqual([7]);
    expect(await blobs!.keys()).toEqual(['a']);
  });

  it('.write() anew makes the blobs\' directory again when an empty one was removed under the handle (a cleaner of empty directories)', async () => {
    const { blobs } = await q.open();
    await blobs!.write('a', 0, bytes(1), 'relaxed');
    await blobs!.delete(['a']);
    rmdirSync(q.file('blobs'));
    await blobs!.write('b', 0, bytes(2), 'strict');
    await blobs!.write('b', 1, bytes(3), 'relaxed');
    expect([...(await blobs!.read('b', 0, 10))]).toEqual([2, 3]);
    expect(await blobs!.keys()).toEqual(['b']);
  });

  it('.read() of a blob that cannot be read is ERR_STORAGE', async () => {
    const { blobs } = await q.open();
    await blobs!.write('a', 0, bytes(1), 'relaxed');
    // A directory under a key's name: opened for reading, but not readable as bytes (EISDIR).
    mkdirSync(q.file('blobs/dir'));
    expect(await codeOf(blobs!.read('dir', 0, 10))).toBe('ERR_STORAGE');
    expect(await codeOf(blobs!.write('dir', 0, bytes(1), 'relaxed'))).toBe('ERR_STORAGE');
  });
});
