import { SluiceError } from './errors.js';

/** Turns items into bytes and back. `encode` throws `SluiceError` 'ERR_NOT_SERIALIZABLE' for what it cannot carry. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
  /**
   * Optional fast path for batches: all values encoded into one buffer, item `i` ending at `ends[i]` (and starting
   * where item `i - 1` ended). Must agree with `encode`.
   */
  encodeMany?(values: readonly T[]): { bytes: Uint8Array; ends: number[] };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The default codec: JSON, checked so that what comes out equals what went in. Rejected with
 * 'ERR_NOT_SERIALIZABLE': functions, symbols, BigInt, `undefined` at the top level or in an array, non-finite
 * numbers, circular structures, and objects that are not plain (Date, Map, Set, class instances), which JSON would
 * silently turn into something else. Object properties whose value is `undefined` are dropped, as JSON does.
 */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode(value: T): Uint8Array {
      check(value, '$', new Set());
      return encoder.encode(JSON.stringify(value));
    },
    decode(bytes: Uint8Array): T {
      return JSON.parse(decoder.decode(bytes)) as T;
    },
    // One TextEncoder call for the whole batch instead of one per item: JSON.stringify never emits a raw newline
    // (it escapes control characters in strings and adds no whitespace), so newlines can separate the items.
    encodeMany(values: readonly T[]) {
      const texts = values.map((value) => {
        check(value, '$', new Set());
        return JSON.stringify(value);
      });
      const bytes = encoder.encode(texts.join('\n'));
      const ends: number[] = [];
      for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) ends.push(i);
      ends.push(bytes.length);
      return { bytes, ends };
    },
  };
}

function check(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      return reject(path, `${value} has no JSON form`);
    case 'object':
      break;
    default:
      return reject(path, `${value === undefined ? "undefined" : `a ${typeof value}`} has no JSON form`);
  }
  if (value === null) return;
  if (seen.has(value)) reject(path, 'the structure is circular');
  const proto = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    seen.add(value);
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined) reject(`${path}[${i}]`, 'undefined in an array would come back as null');
      check(value[i], `${path}[${i}]`, seen);
    }
  } else if (proto === Object.prototype || proto === null) {
    seen.add(value);
    for (const key of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) check(v, `${path}.${key}`, seen);
    }
  } else {
    const kind = (proto?.constructor as { name?: string } | undefined)?.name ?? 'object';
    reject(path, `a ${kind} would not come back from JSON as itself; convert it (e.g. a Date to its ISO string) or pass a codec`);
  }
  seen.delete(value);
}

function reject(path: string, why: string): never {
  throw new SluiceError('ERR_NOT_SERIALIZABLE', `The item cannot be stored as JSON: at ${path}, ${why}.`);
}
