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
 * numbers and -0, circular structures, items nested more than 512 levels deep, arrays with properties besides their
 * items, symbol-keyed properties, and objects that are not plain (Date, Map, Set, class instances), which JSON would
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

/** Deeper items are refused: JSON.parse and JSON.stringify recurse, and a deeper one would overflow the stack. */
const MAX_DEPTH = 512;

/**
 * Throws 'ERR_NOT_SERIALIZABLE' unless `value` comes back from JSON as itself. Walked with a stack of its own, not
 * by recursion, so that an item nested too deep is an error with a code, never a RangeError.
 */
function check(value: unknown, path: string, seen: Set<object>): void {
  const stack: { value: unknown; path: string; depth: number; leave?: object }[] = [{ value, path, depth: 0 }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.leave) {
      seen.delete(top.leave);
      continue;
    }
    const { value: v, path: at, depth } = top;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (Object.is(v, -0)) reject(at, '-0 would come back as 0');
        if (Number.isFinite(v)) continue;
        return reject(at, `${v} has no JSON form`);
      case 'object':
        break;
      default:
        return reject(at, `${v === undefined ? 'undefined' : `a ${typeof v}`} has no JSON form`);
    }
    if (v === null) continue;
    if (depth >= MAX_DEPTH) reject(at, `the item is nested more than ${MAX_DEPTH} levels deep`);
    if (seen.has(v)) reject(at, 'the structure is circular');
    if (Object.getOwnPropertySymbols(v).length > 0) reject(at, 'symbol-keyed properties would be dropped');
    const proto = Object.getPrototypeOf(v);
    const children: [unknown, string][] = [];
    if (Array.isArray(v)) {
      if (Object.keys(v).length !== v.length) reject(at, 'an array with properties besides its items would lose them');
      for (let i = 0; i < v.length; i++) {
        if (v[i] === undefined) reject(`${at}[${i}]`, 'undefined in an array would come back as null');
        children.push([v[i], `${at}[${i}]`]);
      }
    } else if (proto === Object.prototype || proto === null) {
      for (const key of Object.keys(v)) {
        const child = (v as Record<string, unknown>)[key];
        if (child !== undefined) children.push([child, `${at}.${key}`]);
      }
    } else {
      const kind = (proto?.constructor as { name?: string } | undefined)?.name ?? 'object';
      reject(at, `a ${kind} would not come back from JSON as itself; convert it (e.g. a Date to its ISO string) or pass a codec`);
    }
    // Visited depth first and in order, so the first fault reported is the first JSON would meet.
    seen.add(v);
    stack.push({ value: undefined, path: at, depth, leave: v });
    for (let i = children.length - 1; i >= 0; i--) stack.push({ value: children[i]![0], path: children[i]![1], depth: depth + 1 });
  }
}

function reject(path: string, why: string): never {
  throw new SluiceError('ERR_NOT_SERIALIZABLE', `The item cannot be stored as JSON: at ${path}, ${why}.`);
}
