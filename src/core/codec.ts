import { copyBytes } from './copy-bytes.js';
import { SluiceError } from './errors.js';

/** Turns items into bytes and back. `encode` throws `SluiceError` 'ERR_NOT_SERIALIZABLE' for what it cannot carry. */
export interface Codec<T> {
  /** An item's bytes: the queue copies them before it encodes another, so a buffer the encoder reuses is safe. */
  encode(value: T): Uint8Array;
  /** An item back from its bytes: a copy of them, the codec's to keep (the default JSON codec reads a view). */
  decode(bytes: Uint8Array): T;
  /**
   * Optional fast path for batches: all values encoded into one buffer, item `i` ending at `ends[i]` (and starting
   * where item `i - 1` ended), the last where the buffer ends. Must agree with `encode`. Ends that do not cut the
   * buffer so are refused ('ERR_NOT_SERIALIZABLE').
   */
  encodeMany?(values: readonly T[]): { bytes: Uint8Array; ends: number[] };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An item's JSON text, checked (see `jsonCodec`). */
export function jsonText(value: unknown): string {
  check(value);
  return JSON.stringify(value);
}

/**
 * The default codec's `encode`, one function for every queue: `encodeItems` knows it by identity and then frames the
 * item's text in one step. A codec that replaces `encode` (even one spread from `jsonCodec()`) is used as it is.
 */
export function jsonEncode(value: unknown): Uint8Array {
  return encoder.encode(jsonText(value));
}

function jsonDecode(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes));
}

// One TextEncoder call for the whole batch instead of one per item: JSON.stringify never emits a raw newline (it
// escapes control characters in strings and adds no whitespace), so newlines can separate the items.
export function jsonEncodeMany(values: readonly unknown[]): { bytes: Uint8Array; ends: number[] } {
  const bytes = encoder.encode(values.map(jsonText).join('\n'));
  const ends: number[] = [];
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) ends.push(i);
  ends.push(bytes.length);
  return { bytes, ends };
}

/**
 * The default codec: JSON, checked so that what comes out equals what went in. Rejected with
 * 'ERR_NOT_SERIALIZABLE': functions, symbols, BigInt, `undefined` at the top level or in an array, non-finite
 * numbers and -0, circular structures, items nested more than 512 levels deep, arrays with properties besides their
 * items, symbol-keyed properties, and objects that are not plain (Date, Map, Set, class instances), which JSON would
 * silently turn into something else. Object properties whose value is `undefined` are dropped, as JSON does.
 */
export function jsonCodec<T>(): Codec<T> {
  return { encode: jsonEncode, decode: jsonDecode as (bytes: Uint8Array) => T, encodeMany: jsonEncodeMany };
}

/** Deeper items are refused: JSON.parse and JSON.stringify recurse, and a deeper one would overflow the stack. */
const MAX_DEPTH = 512;

/**
 * A value still to check, with where it sits (its parent and its key there): the path an error names is put
 * together only when there is an error, and the parents are the objects a circular one would come back to. `wrong`:
 * a value already found wrong, reported once everything before it has been checked.
 */
interface Visit {
  readonly value: unknown;
  readonly parent: Visit | undefined;
  readonly key: string | number | undefined;
  readonly depth: number;
  readonly wrong?: boolean;
}

/**
 * Throws 'ERR_NOT_SERIALIZABLE' unless `value` comes back from JSON as itself. Walked with a stack of its own, not
 * by recursion, so that an item nested too deep is an error with a code, never a RangeError. Only objects go on the
 * stack (and a wrong value, to be reported in its turn): the strings, numbers and booleans inside one are checked as
 * it is, which for a typical item (a flat record) is all there is.
 */
function check(value: unknown): void {
  const stack: Visit[] = [{ value, parent: undefined, key: undefined, depth: 0 }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const v = visit.value;
    if (typeof v !== 'object' || v === null) {
      if (visit.wrong || !faithful(v)) reject(pathOf(visit), /* @__PURE__ */ fault(v, typeof visit.key === 'number'));
      continue;
    }
    if (visit.depth >= MAX_DEPTH) reject(pathOf(visit), `the item is nested more than ${MAX_DEPTH} levels deep`);
    for (let at = visit.parent; at; at = at.parent) if (at.value === v) reject(pathOf(visit), 'the structure is circular');
    if (Object.getOwnPropertySymbols(v).length > 0) reject(pathOf(visit), 'symbol-keyed properties would be dropped');
    const keys = Array.isArray(v) ? undefined : Object.keys(v);
    const proto = Object.getPrototypeOf(v) as object | null;
    const own = keys ? 0 : Object.keys(v).length - (v as unknown[]).length;
    if (own > 0) reject(pathOf(visit), 'an array with properties besides its items would lose them');
    if (own < 0) reject(pathOf(visit), 'an array with holes ([1, , 3]) would come back with null in them');
    // An array's prototype is some realm's Array.prototype (itself an array); an Array subclass's or a null one would
    // come back as a plain Array, its class lost.
    if (!keys && (proto === null || !Array.isArray(proto))) {
      const kind = (proto?.constructor as { name?: string } | undefined)?.name ?? 'array without a prototype';
      reject(pathOf(visit), `an array of a class of its own (${kind}) would come back from JSON as a plain Array; convert it (Array.from) or pass a codec`);
    }
    if (keys && proto !== Object.prototype && proto !== null && !objectPrototype(proto)) {
      const kind = (proto.constructor as { name?: string } | undefined)?.name ?? 'object';
      reject(pathOf(visit), `a ${kind} would not come back from JSON as itself; convert it (a Date to its ISO string, a Map or Set to an object or array) or pass a codec`);
    }
    // Children go on in order, up to the first wrong value, and are turned around after: they are visited depth
    // first and in order, so the first fault reported is the first JSON would meet.
    const first = stack.length;
    const count = keys ? keys.length : (v as unknown[]).length;
    for (let i = 0; i < count; i++) {
      const key = keys ? keys[i]! : i;
      const c = (v as Record<string | number, unknown>)[key];
      const object = typeof c === 'object' && c !== null;
      // An undefined property is dropped, as JSON drops it; an undefined array item would come back as null.
      const wrong = !object && (c === undefined ? !keys : !faithful(c));
      if (object || wrong) stack.push({ value: c, parent: visit, key, depth: visit.depth + 1, wrong });
      if (wrong) break;
    }
    for (let i = first, j = stack.length - 1; i < j; i++, j--) [stack[i], stack[j]] = [stack[j]!, stack[i]!];
  }
}

/**
 * Whether `proto` is another realm's Object.prototype (a same-origin iframe's, a `vm` context's): a plain object made
 * there comes back from JSON as one made here, as another realm's array does.
 */
function objectPrototype(proto: object): boolean {
  const ctor = (proto as { constructor?: unknown }).constructor;
  return Object.getPrototypeOf(proto) === null && typeof ctor === 'function' && ctor.prototype === proto && ctor.name === 'Object';
}

/** Whether a value that is not an object comes back from JSON as itself. */
function faithful(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0));
}

/** Why a value that is not an object has no faithful JSON form (only the message: unused, it leaves the build). */
function fault(v: unknown, inArray: boolean): string {
  if (v === undefined) return inArray ? 'undefined in an array would come back as null' : 'undefined has no JSON form';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0 would come back as 0' : `${v} has no JSON form`;
  return `a ${typeof v} has no JSON form`;
}

/** The path of `visit` from the item's root: `$.a[0].f`; a deep one with its middle cut: `$[0][0][0][0][0][0]…(503 more)…[0][0][0][0]`. */
function pathOf(visit: Visit): string {
  const steps: string[] = [];
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) steps.push(typeof at.key === 'number' ? `[${at.key}]` : `.${at.key}`);
  steps.reverse();
  if (steps.length > 12) steps.splice(6, steps.length - 10, `…(${steps.length - 10} more)…`);
  return `$${steps.join('')}`;
}

function reject(path: string, why: string): never {
  throw new SluiceError('ERR_NOT_SERIALIZABLE', `The item cannot be stored as JSON: at ${path}, ${why}.`);
}

/**
 * Item `bytes[start, end)` decoded. The default codec reads a view on the segment the handle keeps; any other gets a
 * copy of its own, since it may keep the bytes it is given (a value that is them, msgpackr's binary fields): a
 * consumer's edit of such a value would reach the next take of the item from this handle.
 */
export function decodeItem<T>(codec: Codec<T>, bytes: Uint8Array, start: number, end: number): T {
  return codec.decode(codec.decode === jsonDecode ? bytes.subarray(start, end) : copyBytes(bytes.subarray(start, end)));
}
