// A queue's blobs as users call them (`Queue.blobs`): what is checked before it reaches the store.
import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describe('Queue.blobs', () => {
  it('refuses offsets, ranges and bytes that are not what a blob has (ERR_INVALID_OPTION), writing nothing', async () => {
    const queue = await Queue.open({ name: 'q', store: new MemoryStore() });
    const blobs = queue.blobs!;
    await blobs.write('k', 0, new Uint8Array([1, 2, 3, 4]));
    const bad: [string, () => Promise<unknown>][] = [
      ['a negative offset', () => blobs.write('k', -1, new Uint8Array([9]))],
      ['a NaN offset', () => blobs.write('k', NaN, new Uint8Array([9]))],
      ['a fractional offset', () => blobs.write('k', 1.5, new Uint8Array([9]))],
      ['a string for bytes', () => blobs.write('k', 4, 'bytes' as never)],
      ['an array for bytes', () => blobs.write('k', 4, [9] as never)],
      ['a negative start', () => blobs.read('k', -1, 2)],
      ['a NaN start', () => blobs.read('k', NaN, 2)],
      ['a NaN end', () => blobs.read('k', 0, NaN)],
      ['an end past any integer', () => blobs.read('k', 0, Infinity)],
    ];
    for (const [what, call] of bad) expect(await rejection(call()), what).toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' });
    expect([...(await blobs.read('k', 0, 10))]).toEqual([1, 2, 3, 4]);
    await queue.close();
    expect(await rejection(blobs.read('k', 0, 1))).toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('refuses the keys "." and ".." (ERR_INVALID_OPTION) for every call, before they reach the store', async () => {
    const queue = await Queue.open({ name: 'q', store: new MemoryStore() });
    const blobs = queue.blobs!;
    for (const key of ['.', '..']) {
      for (const call of [blobs.write(key, 0, new Uint8Array([1])), blobs.read(key, 0, 1), blobs.delete([key])]) {
        expect(await rejection(call), key).toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' });
      }
    }
    // Dots inside a key, or more of them, are a name like any other.
    for (const key of ['...', '.a', 'a..b']) await blobs.write(key, 0, new Uint8Array([1]));
    expect((await blobs.keys()).sort()).toEqual(['...', '.a', 'a..b']);
    await queue.close();
  });
});
