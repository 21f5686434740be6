import { describe, expect, it } from 'vitest';
import { jsonCodec, SluiceError } from '../../src/index.js';

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
