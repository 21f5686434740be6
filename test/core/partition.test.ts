import { describe, expect, it } from 'vitest';
import { jsonCodec, MemoryStore, Queue, SluiceError, type Codec } from '../../src/index.js';

type Item = { n: number; poison?: true };

/** JSON, except that items marked `poison` cannot be read back: what a codec changed under stored items does. */
function pickyCodec(): Codec<Item> {
  const json = jsonCodec<Item>();
  return {
    encode: json.encode,
    decode(bytes) {
      const item = json.decode(bytes);
      if (item.poison) throw new TypeError('unknown format');
      return item;
    },
  };
}

describe('an item its codec cannot decode', () => {
  it('fails the calls that read it with ERR_CORRUPT naming its id (the codec error as cause), changes nothing, and remove() clears the way', async () => {
    await using q = await Queue.open<Item>({ name: 'picky', store: new MemoryStore(), codec: pickyCodec() });
    const ids = await q.pushMany([{ n: 1 }, { n: 2, poison: true }, { n: 3 }]);
    const failure = await q.take(3).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SluiceError);
    expect(failure).toMatchObject({ code: 'ERR_CORRUPT', message: expect.stringContaining(`item ${ids[1]}`), cause: { message: 'unknown format' } });
    await expect(q.peek(3)).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    await expect(q.stats()).resolves.toMatchObject({ size: 3, leased: 0 });
    // The items before it are there to take; a listing reads a value only when asked.
    const lease = await q.take(1);
    expect(lease?.entries.map((e) => e.value)).toEqual([{ n: 1 }]);
    await lease!.ack();
    const [entry] = await q.list({ limit: 1 });
    expect(entry!.id).toBe(ids[1]);
    expect(() => entry!.value).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT' }));
    expect(await q.remove([ids[1]!])).toBe(1);
    expect((await q.take(3))?.entries.map((e) => e.value)).toEqual([{ n: 3 }]);
  });

  it('names the id the queue gives it in a queue of several partitions', async () => {
    await using q = await Queue.open<Item>({ name: 'picky-parts', store: new MemoryStore(), codec: pickyCodec(), partitions: 3 });
    // Pushed without a key, items go round the partitions (from one this handle drew): each in a partition of its own.
    const ids = [await q.push({ n: 1 }), await q.push({ n: 2 }), await q.push({ n: 3, poison: true })];
    expect(new Set(ids.map((i) => Math.floor(Number(i) / 2 ** 40)))).toEqual(new Set([0, 1, 2]));
    expect(await q.remove(ids.slice(0, 2))).toBe(2);
    const id = ids[2]!;
    await expect(q.take(1)).rejects.toMatchObject({ code: 'ERR_CORRUPT', message: expect.stringMatching(new RegExp(`item ${id}\\.$`)) });
    expect(await q.remove([id])).toBe(1);
    expect(await q.size()).toBe(0);
  });
});
