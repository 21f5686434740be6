import { describe, expect, it } from 'vitest';
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
