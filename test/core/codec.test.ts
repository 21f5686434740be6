import { describe, expect, it, vi } from 'vitest';
import { runInNewContext } from 'node:vm';
import { jsonCodec, MemoryStore, Queue, SluiceError, type Codec } from '../../src/index.js';

describe('jsonCodec()', () => {
  const codec = jsonCodec<unknown>();
  const roundTrip = (value: unknown) => codec.decode(codec.encode(value));

  it('round-trips what JSON carries faithfully', () => {
    for (const value of [null, 0, -1.5, 'ü ✓ \n', true, [], [1, 'a', null], { a: { b: [{}] } }, { a: null, b: [null, false, ''] }, Object.create(null)]) {
      expect(roundTrip(value)).toEqual(value);
    }
  });

  it('drops object properties whose value is undefined, as JSON does', () => {
    expect(roundTrip({ a: 1, b: undefined })).toEqual({ a: 1 });
  });

  it('rejects with ERR_NOT_SERIALIZABLE, naming the path, what JSON would change or lose', () => {
    const circular: Record<string, unknown> = {};
    circular.me = circular;
    const cases: [unknown, string][] = [
      [undefined, '$'],
      [() => 1, '$'],
      [Symbol('x'), '$'],
      [1n, '$'],
      [NaN, '$'],
      [-Infinity, '$'],
      [{ when: new Date(0) }, '$.when'],
      [{ m: new Map() }, '$.m'],
      [[1, undefined], '$[1]'],
      [{ a: [{ f: () => 1 }] }, '$.a[0].f'],
      [circular, '$.me'],
      [new (class Point {})(), '$'],
      [{ zero: -0 }, '$.zero'],
      [Object.assign([1, 2], { extra: true }), '$'],
      [{ [Symbol('k')]: 1 }, '$'],
      // The first fault JSON would meet, depth first and in order, whatever comes after it.
      [{ a: { f: () => 1 }, b: NaN }, '$.a.f'],
      [[{ x: [1, { y: undefined, z: 1n }] }, NaN], '$[0].x[1].z'],
      [{ a: 1, b: -0, c: { d: () => 1 } }, '$.b'],
      [{ a: [null, { b: [0, undefined] }] }, '$.a[1].b[1]'],
    ];
    for (const [value, path] of cases) {
      let error: unknown;
      try {
        codec.encode(value);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe('ERR_NOT_SERIALIZABLE');
      expect((error as SluiceError).message).toContain(`at ${path},`);
    }
  });

  it('names an array with holes as such, and one with extra properties as such', () => {
    expect(() => codec.encode({ list: [1, , 3] })).toThrow(/at \$\.list, an array with holes/);
    expect(() => codec.encode(Object.assign([1], { extra: true }))).toThrow(/at \$, an array with properties besides its items/);
  });

  it('rejects an item nested too deep with ERR_NOT_SERIALIZABLE, never a RangeError, in encode and encodeMany', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    for (const encode of [() => codec.encode(deep), () => codec.encodeMany!([1, deep])]) {
      expect(encode).toThrow(SluiceError);
      try {
        encode();
      } catch (error) {
        expect((error as SluiceError).code).toBe('ERR_NOT_SERIALIZABLE');
        expect((error as SluiceError).message).toContain('nested more than 512 levels');
        // The path with its middle cut: written whole, it was 1.6 KB of `[0]`.
        expect((error as SluiceError).message).toContain('[0][0][0][0][0][0]…(502 more)…[0][0][0][0],');
        expect((error as SluiceError).message.length).toBeLessThan(200);
      }
    }
    let ok: unknown = 1;
    for (let i = 0; i < 500; i++) ok = { a: ok };
    expect(roundTrip(ok)).toEqual(ok);
  });

  it('accepts a shared (not circular) object twice', () => {
    const shared = { x: 1 };
    expect(roundTrip({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it('.encodeMany() agrees with .encode(), non-ASCII and newlines in strings included', () => {
    const values = [{ s: 'a\nb' }, 'é', [1, 2], null, { t: '✓'.repeat(3) }];
    const { bytes, ends } = codec.encodeMany!(values);
    let start = 0;
    values.forEach((value, i) => {
      expect(bytes.subarray(start, ends[i])).toEqual(codec.encode(value));
      start = ends[i]! + 1;
    });
  });
});

describe("a codec of the app's with encodeMany", () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  /** Items joined with nothing between them, as `Codec.encodeMany` says; `ends` as `bend` makes them. */
  const joined = (bend: (ends: number[], bytes: Uint8Array) => unknown = (ends) => ends): Codec<string> => ({
    encode: (v) => enc.encode(v),
    decode: (b) => dec.decode(b),
    encodeMany: (values) => {
      const bytes = enc.encode(values.join(''));
      const ends: number[] = [];
      values.reduce((at, v) => (ends.push(at + enc.encode(v).length), at + enc.encode(v).length), 0);
      return { bytes, ends: bend(ends, bytes) as number[] };
    },
  });

  it('stores each item whole: ends are where the next item starts (the JSON codec alone puts a newline between)', async () => {
    const q = await Queue.open<string>({ name: 'q', store: new MemoryStore(), codec: joined() });
    await q.pushMany(['alpha', 'beta', 'ü✓', 'gamma']);
    expect((await q.list()).map((e) => e.value)).toEqual(['alpha', 'beta', 'ü✓', 'gamma']);
    await q.close();
  });

  it('without encodeMany, an encoder that reuses its buffer for each item (as msgpackr can) stores each item as it was', async () => {
    const scratch = new Uint8Array(64);
    const reusing: Codec<string> = {
      encode: (v) => scratch.subarray(0, enc.encodeInto(v, scratch).written),
      decode: (b) => dec.decode(b),
    };
    const q = await Queue.open<string>({ name: 'q', store: new MemoryStore(), codec: reusing });
    await q.pushMany(['alpha', 'beta', 'gamma']);
    expect((await q.list()).map((e) => e.value)).toEqual(['alpha', 'beta', 'gamma']);
    await q.close();
  });

  it('so does one that hands back Node Buffers of one reused Buffer (a Buffer\'s slice() is a view, no copy)', async () => {
    const scratch = Buffer.alloc(64);
    const reusing: Codec<string> = { encode: (v) => scratch.subarray(0, scratch.write(v)), decode: (b) => dec.decode(b) };
    const q = await Queue.open<string>({ name: 'q', store: new MemoryStore(), codec: reusing });
    await q.pushMany(['one', 'two', 'six']);
    expect((await q.list()).map((e) => e.value)).toEqual(['one', 'two', 'six']);
    await q.close();
  });

  it('ends that do not cut the bytes into the items in order are refused, and nothing is stored', async () => {
    const bent: ((ends: number[], bytes: Uint8Array) => unknown)[] = [
      (ends) => ends.slice(1),
      (ends) => [ends[1], ends[0], ...ends.slice(2)],
      (ends, bytes) => [...ends.slice(0, -1), bytes.length + 3],
      (ends) => [...ends.slice(0, -1), ends.at(-1)! - 1],
      (ends) => ends.map((end) => end + 0.5),
      (ends) => [-1, ...ends.slice(1)],
      () => 'ends',
    ];
    for (const bend of bent) {
      const q = await Queue.open<string>({ name: 'q', store: new MemoryStore(), codec: joined(bend) });
      await expect(q.pushMany(['alpha', 'beta', 'gamma'])).rejects.toMatchObject({ code: 'ERR_NOT_SERIALIZABLE', message: expect.stringMatching(/encodeMany returned ends/) });
      expect(await q.size()).toBe(0);
      await q.close();
    }
  });
});

// Arrays of a class of their own are class instances too: JSON brings them back as plain Arrays.
describe('jsonCodec and arrays that are not plain', () => {
  it('refuses an Array subclass instance and an array without a prototype, as it refuses class instances', async () => {
    class Path extends Array<number> {}
    const q = await Queue.open<unknown>({ name: 'arrays', store: new MemoryStore() });
    for (const item of [Path.from([1, 2]), Object.setPrototypeOf([1, 2], null) as unknown, { nested: [Path.from([3])] }]) {
      await expect(q.push(item)).rejects.toMatchObject({ code: 'ERR_NOT_SERIALIZABLE' });
    }
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it('takes plain arrays, from this realm or another', () => {
    const codec = jsonCodec<unknown>();
    for (const item of [[1, [2]], runInNewContext('[1, [2]]') as unknown, new Proxy([1, 2], {})]) {
      expect(codec.decode(codec.encode(item))).toEqual(JSON.parse(JSON.stringify(item)));
    }
  });
});

describe('jsonCodec and objects of another realm', () => {
  it("takes a plain object made in another realm (an iframe's, a vm context's), and refuses that realm's class instances", async () => {
    const q = await Queue.open<unknown>({ name: 'realms', store: new MemoryStore() });
    const plain = runInNewContext('({ a: 1, b: [{ c: "x" }], d: Object.assign(Object.create(null), { e: 2 }) })') as unknown;
    await q.push(plain);
    await q.pushMany([plain, { nested: plain }]);
    const lease = await q.take(3);
    expect(lease!.entries.map((e) => e.value)).toEqual([{ a: 1, b: [{ c: 'x' }], d: { e: 2 } }, { a: 1, b: [{ c: 'x' }], d: { e: 2 } }, { nested: { a: 1, b: [{ c: 'x' }], d: { e: 2 } } }]);
    for (const item of runInNewContext('[new Date(0), new Map(), new (class Point { constructor() { this.x = 1; } })(), Object.create(Object.create(null))]') as unknown[]) {
      await expect(q.push(item)).rejects.toMatchObject({ code: 'ERR_NOT_SERIALIZABLE' });
    }
    await q.close();
  });
});

describe('a codec spread from jsonCodec()', () => {
  it('with an encode of its own, encodes every item of pushMany with it, not with the JSON codec\'s encodeMany', async () => {
    const json = jsonCodec<number>();
    // Tagged: a stored item without its tag would come back cut.
    const tagged: Codec<number> = { ...json, encode: (n) => json.encode(`#${n}` as unknown as number), decode: (b) => Number((json.decode(b) as unknown as string).slice(1)) };
    const q = await Queue.open<number>({ name: 'tagged', store: new MemoryStore(), codec: tagged });
    await q.push(12345);
    await q.pushMany([12345, 67890]);
    const lease = await q.take(3);
    expect(lease!.entries.map((e) => e.value)).toEqual([12345, 12345, 67890]);
    await q.close();
  });

  it("takes another realm's Uint8Array from encode and encodeMany", async () => {
    const foreign = (text: string) => runInNewContext('new Uint8Array(bytes)', { bytes: [...new TextEncoder().encode(text)] }) as Uint8Array;
    expect(foreign('x')).not.toBeInstanceOf(Uint8Array);
    const codec: Codec<string> = { encode: (v) => foreign(v), decode: (b) => new TextDecoder().decode(b) };
    const many: Codec<string> = { ...codec, encodeMany: (values) => ({ bytes: foreign(values.join('')), ends: values.map((_, i) => values.slice(0, i + 1).join('').length) }) };
    for (const c of [codec, many]) {
      const q = await Queue.open<string>({ name: 'bytes', store: new MemoryStore(), codec: c });
      await q.push('one');
      await q.pushMany(['two', 'three']);
      expect((await q.take(3))!.entries.map((e) => e.value)).toEqual(['one', 'two', 'three']);
      await q.close();
    }
  });

  it('whose encodeMany is not a function is refused as the queue opens (ERR_INVALID_OPTION)', async () => {
    const codec = { ...jsonCodec<unknown>(), encodeMany: 5 } as unknown as Codec<unknown>;
    await expect(Queue.open({ name: 'q', store: new MemoryStore(), codec })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/encodeMany/) });
  });
});

describe('items past the longest string', () => {
  it("JSON longer than the engine's longest string is too large (ERR_ITEM_TOO_LARGE), not of a kind JSON cannot carry", async () => {
    const q = await Queue.open<unknown>({ name: 'huge', store: new MemoryStore() });
    // Past V8's 512 MiB: what JSON.stringify, or the join of a batch's texts, throws then.
    const stringify = vi.spyOn(JSON, 'stringify').mockImplementation(() => {
      throw new RangeError('Invalid string length');
    });
    try {
      await expect(q.push('x')).rejects.toMatchObject({ code: 'ERR_ITEM_TOO_LARGE', message: expect.stringMatching(/^The item as JSON would be longer than this JavaScript engine's longest string/) });
      await expect(q.pushMany(['x', 'y'])).rejects.toMatchObject({ code: 'ERR_ITEM_TOO_LARGE', message: expect.stringMatching(/^The 2 items as JSON/) });
    } finally {
      stringify.mockRestore();
    }
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it("another RangeError (a getter's Invalid time value) is the item's: ERR_NOT_SERIALIZABLE", async () => {
    const q = await Queue.open<unknown>({ name: 'dates', store: new MemoryStore() });
    const item = {
      get at(): string {
        throw new RangeError('Invalid time value');
      },
    };
    await expect(q.push(item)).rejects.toMatchObject({ code: 'ERR_NOT_SERIALIZABLE' });
    await expect(q.pushMany([item, 1])).rejects.toMatchObject({ code: 'ERR_NOT_SERIALIZABLE' });
    await q.close();
  });
});
